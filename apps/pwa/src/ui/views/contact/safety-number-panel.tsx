/**
 * The contact's identity and safety number: avatar, name and trust state, the banner when the key changed, the 60
 * digits in twelve groups and their QR code (qr-image.tsx). Display only.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { SafetyInfo } from '../../../app/model.js';
import { Avatar } from '../../avatar.js';
import { IconAlert, IconShield, IconShieldCheck } from '../../icons.js';
import { QrImage } from '../../qr-image.js';

/** Digits per group in the safety number display, as Signal shows it (12 groups of 5). */
const GROUP = 5;

export function SafetyNumberPanel({ safety }: { safety: SafetyInfo }): ReactElement {
  const { t } = useTranslation();
  const groups = safety.digits.match(new RegExp(`.{1,${GROUP}}`, 'g')) ?? [];
  return (
    <>
      <div className="contact-head">
        <Avatar name={safety.title} size={72} />
        <h2>{safety.title}</h2>
        <p className={`trust ${safety.verified ? 'ok' : ''}`} data-testid="verification-state">
          {safety.verified ? <IconShieldCheck /> : <IconShield />}
          {safety.verified ? t('contact.verified') : t('contact.notVerified')}
        </p>
      </div>
      {safety.identityChanged ? (
        <div className="banner warn" role="alert">
          <IconAlert />
          <p>{t('contact.changed', { name: safety.title })}</p>
        </div>
      ) : null}
      <div className="card">
        <h3>{t('contact.safetyNumber')}</h3>
        <p className="muted">{t('contact.explain', { name: safety.title })}</p>
        <div className="safety-grid" data-testid="safety-number" aria-label={t('contact.safetyNumber')} role="group">
          {groups.map((g, i) => (
            <span key={i}>{g}</span>
          ))}
        </div>
        <QrImage text={safety.qrPayload} alt={t('contact.qrAlt')} size={220} />
      </div>
    </>
  );
}

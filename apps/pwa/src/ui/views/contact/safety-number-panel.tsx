/**
 * The contact's identity and safety number: avatar, name and trust state, the banner when the key changed, the 60
 * digits in twelve groups and their QR code (rendered by the lazily loaded `qrcode` module). Display only.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { SafetyInfo } from '../../../app/model.js';
import { Avatar } from '../../avatar.js';
import { IconAlert, IconShield, IconShieldCheck } from '../../icons.js';

/** Digits per group in the safety number display, as Signal shows it (12 groups of 5). */
const GROUP = 5;

export function SafetyNumberPanel({ safety }: { safety: SafetyInfo }): ReactElement {
  const { t } = useTranslation();
  const [qr, setQr] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    const render = async () => {
      const { default: QRCode } = await import('qrcode');
      const svg = await QRCode.toString(safety.qrPayload, {
        type: 'svg',
        margin: 1,
        errorCorrectionLevel: 'M',
        color: { dark: '#0b1f24', light: '#ffffff' },
      });
      if (!cancelled) setQr(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
    };
    render().catch(() => undefined);
    return () => {
      cancelled = true;
    };
  }, [safety]);

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
        {qr ? <img className="qr" src={qr} alt={t('contact.qrAlt')} width={220} height={220} /> : null}
      </div>
    </>
  );
}

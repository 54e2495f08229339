/**
 * The contact screen: the 60-digit safety number in twelve groups, its QR code, comparison by camera scan (where
 * a camera exists) or by pasting the other side's number, and "mark as verified", which passes the digits on
 * screen so that a number that changed meanwhile is refused (and said so) instead of trusting a key never compared.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { Avatar } from '../avatar.js';
import { IconAlert, IconBack, IconCamera, IconShield, IconShieldCheck } from '../icons.js';
import { useApp, useLive } from '../use-app.js';

/** Digits per group in the safety number display, as Signal shows it (12 groups of 5). */
const GROUP = 5;

export function ContactView({ conversationId, onBack }: { conversationId: string; onBack: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const safety = useLive(() => app.contact.safety(conversationId), [conversationId]);
  const [qr, setQr] = useState<string | null>(null);
  const [pasted, setPasted] = useState('');
  const [result, setResult] = useState<'match' | 'mismatch' | null>(null);
  const [scanning, setScanning] = useState(false);
  /** Set when "Mark as verified" found the number changed since it was shown; cleared when a new number shows. */
  const [changed, setChanged] = useState<string | null>(null);
  const video = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    if (!safety) return;
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

  useEffect(() => {
    if (!scanning || !video.current) return;
    const abort = new AbortController();
    app.contact.scanQr(video.current, abort.signal).then(
      async (text) => {
        setScanning(false);
        if (text !== null) setResult((await app.contact.compareSafety(conversationId, text)) ? 'match' : 'mismatch');
      },
      () => setScanning(false),
    );
    return () => abort.abort();
  }, [scanning, app, conversationId]);

  const markVerified = async (digitsShown: string) => {
    const result = await app.contact.markVerified(conversationId, digitsShown);
    setChanged(result === 'changed' ? digitsShown : null);
  };

  const compare = async () => {
    setResult((await app.contact.compareSafety(conversationId, pasted)) ? 'match' : 'mismatch');
  };

  const groups = safety ? (safety.digits.match(new RegExp(`.{1,${GROUP}}`, 'g')) ?? []) : [];
  return (
    <section className="chat-pane contact-pane" aria-labelledby="contact-title">
      <header className="toolbar">
        <button type="button" className="icon-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <h1 id="contact-title" className="toolbar-heading">
          {t('contact.title')}
        </h1>
      </header>
      <div className="contact-body">
        {safety ? (
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
              <div
                className="safety-grid"
                data-testid="safety-number"
                aria-label={t('contact.safetyNumber')}
                role="group"
              >
                {groups.map((g, i) => (
                  <span key={i}>{g}</span>
                ))}
              </div>
              {qr ? <img className="qr" src={qr} alt={t('contact.qrAlt')} width={220} height={220} /> : null}
            </div>
            <div className="card">
              <h3>{t('contact.compare')}</h3>
              {app.contact.canScan() ? (
                scanning ? (
                  <div className="scanner">
                    <video ref={video} muted playsInline aria-label={t('contact.camera')} />
                    <button type="button" className="secondary" onClick={() => setScanning(false)}>
                      {t('common.cancel')}
                    </button>
                  </div>
                ) : (
                  <button type="button" className="secondary" onClick={() => setScanning(true)}>
                    <IconCamera /> {t('contact.scan')}
                  </button>
                )
              ) : null}
              <label className="field">
                <span>{t('contact.paste')}</span>
                <textarea
                  data-testid="safety-compare-input"
                  rows={2}
                  value={pasted}
                  onChange={(e) => {
                    setPasted(e.target.value);
                    setResult(null);
                  }}
                />
              </label>
              <button
                type="button"
                className="secondary"
                onClick={() => void compare()}
                disabled={!pasted.trim()}
                data-testid="safety-compare-button"
              >
                {t('contact.compareAction')}
              </button>
              {result ? (
                <p
                  className={result === 'match' ? 'success' : 'error'}
                  role="status"
                  data-testid="safety-compare-result"
                >
                  {result === 'match' ? t('contact.match') : t('contact.mismatch')}
                </p>
              ) : null}
            </div>
            {changed !== null ? (
              <div className="banner warn" role="alert" data-testid="verify-changed">
                <IconAlert />
                <p>{t('contact.numberChanged', { name: safety.title })}</p>
              </div>
            ) : null}
            {!safety.verified ? (
              <button
                type="button"
                className="primary wide"
                data-testid="mark-verified-button"
                onClick={() => void markVerified(safety.digits)}
              >
                {t('contact.markVerified')}
              </button>
            ) : null}
          </>
        ) : (
          <div aria-busy="true" />
        )}
      </div>
    </section>
  );
}

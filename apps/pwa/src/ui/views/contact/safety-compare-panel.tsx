/**
 * Comparing safety numbers: scanning the other side's QR code with the camera (where one exists) or pasting their
 * number, and saying whether it matches. It marks nothing verified; the contact view does that.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconCamera } from '../../icons.js';
import { useApp } from '../../use-app.js';

export function SafetyComparePanel({ conversationId }: { conversationId: string }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [pasted, setPasted] = useState('');
  const [result, setResult] = useState<'match' | 'mismatch' | null>(null);
  const [scanning, setScanning] = useState(false);
  const video = useRef<HTMLVideoElement>(null);

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

  const compare = async () => {
    setResult((await app.contact.compareSafety(conversationId, pasted)) ? 'match' : 'mismatch');
  };

  return (
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
        <p className={result === 'match' ? 'success' : 'error'} role="status" data-testid="safety-compare-result">
          {result === 'match' ? t('contact.match') : t('contact.mismatch')}
        </p>
      ) : null}
    </div>
  );
}

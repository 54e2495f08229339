/**
 * Comparing safety numbers: scanning the other side's QR code with the camera (where one exists) or pasting their
 * number, and saying whether it matches (and telling the contact view, which then changes what it offers). Without
 * a usable camera it says so and why, instead of offering a button that cannot work. It marks nothing verified;
 * the contact view does that.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconCamera } from '../../icons.js';
import { useApp } from '../../use-app.js';

export type CompareResult = 'match' | 'mismatch' | null;

export function SafetyComparePanel({
  conversationId,
  onResult,
}: {
  conversationId: string;
  onResult?: (result: CompareResult) => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [pasted, setPasted] = useState('');
  const [result, setShownResult] = useState<CompareResult>(null);
  const [scanning, setScanning] = useState(false);
  /** The camera could not be opened (refused, in use, none after all). */
  const [cameraFailed, setCameraFailed] = useState(false);
  const setResult = (next: CompareResult) => {
    setShownResult(next);
    onResult?.(next);
  };
  const video = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    if (!scanning || !video.current) return;
    const abort = new AbortController();
    app.contact.scanQr(video.current, abort.signal).then(
      async (text) => {
        setScanning(false);
        if (text !== null) setResult((await app.contact.compareSafety(conversationId, text)) ? 'match' : 'mismatch');
      },
      () => {
        setScanning(false);
        setCameraFailed(true);
      },
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
          <>
            <button
              type="button"
              className="secondary"
              onClick={() => {
                setCameraFailed(false);
                setScanning(true);
              }}
            >
              <IconCamera /> {t('contact.scan')}
            </button>
            {cameraFailed ? (
              <p className="hint" role="status" data-testid="scan-failed">
                {t('contact.scanFailed')}
              </p>
            ) : null}
          </>
        )
      ) : (
        <p className="hint" data-testid="scan-unavailable">
          {t('contact.scanUnavailable')}
        </p>
      )}
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
      {result === 'mismatch' ? (
        <div className="mismatch-advice" data-testid="mismatch-advice">
          <p>{t('contact.mismatchWhat')}</p>
          <ul>
            <li>{t('contact.mismatchStep1')}</li>
            <li>{t('contact.mismatchStep2')}</li>
            <li>{t('contact.mismatchStep3')}</li>
          </ul>
        </div>
      ) : null}
    </div>
  );
}

/**
 * "Link a new device" (primary device only): the new device shows a QR code and a link URI; this dialog reads it
 * with the camera (where one works; otherwise it says why) or takes it pasted, refuses anything that is not a Cove
 * link with a clear error, and asks the user to confirm, naming the short code the new device shows and what the
 * new device will get. Then it sends the account and follows the new device until it appears in the device list.
 * The settings view model does the work; this asks and reports.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AddDeviceResult, HistoryProgressView, LinkUriCheck } from '../../../app/model.js';
import { IconCamera } from '../../icons.js';
import { Modal } from '../../modal.js';
import { useApp } from '../../use-app.js';
import { HistoryProgress } from './history-progress.js';

/** How often the device list is read while the new device registers, and for how long at most. */
const APPEAR_POLL_MS = 1_000;
const APPEAR_WAIT_MS = 60_000;

type Step =
  | { kind: 'enter' }
  | { kind: 'sending' }
  | { kind: 'finishing' }
  | { kind: 'done'; name: string | null }
  | { kind: 'unconfirmed' }
  | { kind: 'failed'; error: Extract<AddDeviceResult, { ok: false }>['error'] };

export function LinkDeviceDialog({ onClose }: { onClose: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [text, setText] = useState('');
  /** The check shown under the field: set when the user asks to link or a scan read something. */
  const [shown, setShown] = useState<LinkUriCheck | null>(null);
  const [step, setStep] = useState<Step>({ kind: 'enter' });
  const [scanning, setScanning] = useState(false);
  const [cameraFailed, setCameraFailed] = useState(false);
  /** "Also transfer recent history": off unless the user ticks it (the new device then sees the last 30 days). */
  const [withHistory, setWithHistory] = useState(false);
  const [history, setHistory] = useState<HistoryProgressView | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const closed = useRef(false);
  const check = app.settings.checkLinkUri(text);

  useEffect(
    () => () => {
      closed.current = true;
    },
    [],
  );

  useEffect(() => {
    if (!scanning || !video.current) return;
    const abort = new AbortController();
    app.settings.scanQr(video.current, abort.signal).then(
      (read) => {
        setScanning(false);
        if (read === null) return;
        setText(read);
        setShown(app.settings.checkLinkUri(read));
      },
      () => {
        setScanning(false);
        setCameraFailed(true);
      },
    );
    return () => abort.abort();
  }, [scanning, app]);

  const link = async (event: FormEvent) => {
    event.preventDefault();
    setShown(check);
    if (!check.ok) return;
    const before = await app.settings.devices().catch(() => null);
    setStep({ kind: 'sending' });
    setHistory(null);
    const result = await app.settings.addDevice(check.uri, {
      history: withHistory,
      onHistoryProgress: (progress) => {
        if (!closed.current) setHistory(progress);
      },
    });
    if (!result.ok) {
      setStep({ kind: 'failed', error: result.error });
      return;
    }
    setStep({ kind: 'finishing' });
    // The new device registers itself once it opened the message: follow it until it is in the list.
    const known = new Set((before ?? []).map((d) => d.deviceId));
    const deadline = Date.now() + APPEAR_WAIT_MS;
    while (!closed.current && Date.now() < deadline) {
      const now = await app.settings.devices().catch(() => null);
      const added = now?.find((d) => !known.has(d.deviceId));
      if (added) {
        setStep({ kind: 'done', name: added.name });
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, APPEAR_POLL_MS));
    }
    // Sent, but the new device did not register (its account may be full, or it went away): say so, not "linked".
    if (!closed.current) setStep({ kind: 'unconfirmed' });
  };

  const reset = () => {
    setStep({ kind: 'enter' });
    setText('');
    setShown(null);
  };

  return (
    <Modal titleId="link-device-title" title={t('linking.addTitle')} testId="link-device-dialog" onClose={onClose}>
      {step.kind === 'enter' ? (
        <form onSubmit={(e) => void link(e)} noValidate>
          <p className="muted link-device-intro">{t('linking.addIntro')}</p>
          {app.settings.canScan() ? (
            scanning ? (
              <div className="scanner">
                <video ref={video} muted playsInline aria-label={t('linking.camera')} />
                <button type="button" className="secondary" onClick={() => setScanning(false)}>
                  {t('common.cancel')}
                </button>
              </div>
            ) : (
              <>
                <button
                  type="button"
                  className="secondary"
                  data-testid="link-scan-button"
                  onClick={() => {
                    setCameraFailed(false);
                    setScanning(true);
                  }}
                >
                  <IconCamera /> {t('linking.scan')}
                </button>
                {cameraFailed ? (
                  <p className="hint" role="status" data-testid="link-scan-failed">
                    {t('linking.scanFailed')}
                  </p>
                ) : null}
              </>
            )
          ) : (
            <p className="hint" data-testid="link-scan-unavailable">
              {t('linking.scanUnavailable')}
            </p>
          )}
          <label className="field">
            <span>{t('linking.paste')}</span>
            <textarea
              data-testid="link-uri-input"
              rows={3}
              spellCheck={false}
              autoCapitalize="none"
              autoComplete="off"
              value={text}
              aria-invalid={shown !== null && !shown.ok ? true : undefined}
              aria-describedby={shown !== null && !shown.ok ? 'link-uri-error' : undefined}
              onChange={(e) => {
                setText(e.target.value);
                setShown(null);
              }}
            />
          </label>
          {shown !== null && !shown.ok ? (
            <p className="error" role="alert" id="link-uri-error" data-testid="link-uri-error" data-error={shown.error}>
              {t(`linking.uriErrors.${shown.error}`)}
            </p>
          ) : null}
          {check.ok ? (
            <div className="banner info link-confirm" data-testid="link-confirm-text">
              <div>
                <p>
                  <strong>{t('linking.confirmTitle')}</strong>
                </p>
                <p>{t('linking.confirmText')}</p>
                <p>
                  {t('linking.confirmCode')} <strong data-testid="link-confirm-code">{check.code}</strong>
                </p>
              </div>
            </div>
          ) : null}
          {check.ok ? (
            <label className="check-row">
              <input
                type="checkbox"
                data-testid="link-transfer-history"
                checked={withHistory}
                onChange={(e) => setWithHistory(e.target.checked)}
              />
              <span>
                {t('linking.transferHistory')}
                <small className="muted">{t('linking.transferHistoryHint')}</small>
              </span>
            </label>
          ) : null}
          <div className="dialog-actions">
            <button type="button" className="secondary" onClick={onClose}>
              {t('common.cancel')}
            </button>
            <button type="submit" className="primary" data-testid="link-confirm-button" disabled={text.trim() === ''}>
              {t('linking.confirmAction')}
            </button>
          </div>
        </form>
      ) : step.kind === 'sending' || step.kind === 'finishing' ? (
        <>
          {history ? <HistoryProgress progress={history} /> : null}
          <p className="link-waiting" role="status" aria-busy="true" data-testid="link-progress">
            <span className="spinner" aria-hidden="true" />{' '}
            {step.kind === 'sending' ? t('linking.sending') : t('linking.finishing')}
          </p>
        </>
      ) : step.kind === 'unconfirmed' ? (
        <>
          <p className="hint" role="status" data-testid="link-unconfirmed">
            {t('linking.unconfirmed')}
          </p>
          <div className="dialog-actions">
            <button type="button" className="primary" onClick={onClose}>
              {t('common.close')}
            </button>
          </div>
        </>
      ) : step.kind === 'done' ? (
        <>
          <p className="success" role="status" data-testid="link-done">
            {step.name === null ? t('linking.done') : t('linking.doneNamed', { name: step.name })}
          </p>
          {history?.phase === 'done' ? (
            <p className="muted" data-testid="history-transfer-sent">
              {t('linking.historySent', { count: history.messages ?? 0 })}
            </p>
          ) : null}
          <div className="dialog-actions">
            <button type="button" className="primary" onClick={onClose}>
              {t('common.close')}
            </button>
          </div>
        </>
      ) : (
        <>
          <p className="error" role="alert" data-testid="link-add-error" data-error={step.error}>
            {t(`linking.addErrors.${step.error}`)}
          </p>
          <div className="dialog-actions">
            <button type="button" className="secondary" onClick={onClose}>
              {t('common.close')}
            </button>
            <button type="button" className="primary" onClick={reset}>
              {t('linking.tryAgain')}
            </button>
          </div>
        </>
      )}
    </Modal>
  );
}

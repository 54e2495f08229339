/**
 * "I already have an account": this browser waits to be linked to an existing account. It shows the link code as a
 * QR code and as text (with the short code the other device repeats in its confirmation), lets the user name this
 * device meanwhile, and says what happens: waiting, expired (offer a new code), refused or failed (try again), or
 * done (the app opens with the account's contacts). After a single sign-on of an account that exists, it says so
 * above the steps (`notice`). Leaving closes the channel. The onboarding view model does the
 * work; this shows it.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { linkCodeOfUri } from '../../../app/link-uri.js';
import type { HistoryProgressView, LinkResult } from '../../../app/model.js';
import { QrImage } from '../../qr-image.js';
import { useApp } from '../../use-app.js';
import { HistoryProgress } from './history-progress.js';

/** Pixels of the QR code: readable from a phone held at arm's length, and fits a 390-pixel screen with margins. */
const QR_SIZE = 240;

type LinkFailure = Extract<LinkResult, { ok: false }>['error'];

export function LinkExistingView({ onBack, notice }: { onBack: () => void; notice?: string }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [uri, setUri] = useState<string | null>(null);
  const [failure, setFailure] = useState<LinkFailure | null>(null);
  /** Bumped to start a new attempt (a new channel and code). */
  const [attempt, setAttempt] = useState(0);
  const [name, setName] = useState(() => app.onboarding.suggestedDeviceName());
  const nameRef = useRef(name);
  const [copied, setCopied] = useState(false);
  /** History coming with the account: its progress, then (once linked) how it ended and the way into the app. */
  const [history, setHistory] = useState<HistoryProgressView | null>(null);
  const [ended, setEnded] = useState<{ progress: HistoryProgressView; open: () => void } | null>(null);

  useEffect(() => {
    nameRef.current = name;
  }, [name]);

  useEffect(() => {
    const abort = new AbortController();
    setUri(null);
    setFailure(null);
    setCopied(false);
    let last: HistoryProgressView | null = null;
    void app.onboarding
      .link({
        deviceName: () => nameRef.current,
        onUri: (text) => setUri(text),
        signal: abort.signal,
        onHistoryProgress: (progress) => {
          last = progress;
          if (!abort.signal.aborted) setHistory(progress);
        },
      })
      .then((result) => {
        if (!abort.signal.aborted && !result.ok) setFailure(result.error);
        if (result.ok && result.open && last) setEnded({ progress: last, open: result.open });
      });
    return () => abort.abort();
  }, [app, attempt]);

  const code = uri ? linkCodeOfUri(uri) : '';
  if (ended || history)
    return (
      <main className="onboarding">
        <div className="onboarding-card link-existing" data-testid="link-existing">
          <h1>{t('linking.newTitle')}</h1>
          {ended ? (
            <>
              {ended.progress.phase === 'done' ? (
                <>
                  <p className="success" role="status" data-testid="history-transfer-done">
                    {t('linking.historyDone', { count: ended.progress.messages ?? 0 })}
                  </p>
                  {ended.progress.droppedNotices ? (
                    <p className="muted" data-testid="history-notices-dropped">
                      {t('linking.historyNoticesDropped', { count: ended.progress.droppedNotices })}
                    </p>
                  ) : null}
                </>
              ) : (
                <p className="error" role="alert" data-testid="history-transfer-failed">
                  {t('linking.historyFailed')}
                </p>
              )}
              <button
                type="button"
                className="primary wide"
                data-testid="history-transfer-continue"
                onClick={ended.open}
              >
                {t('linking.historyContinue')}
              </button>
            </>
          ) : history ? (
            <HistoryProgress progress={history} />
          ) : null}
        </div>
      </main>
    );
  return (
    <main className="onboarding">
      <div className="onboarding-card link-existing" data-testid="link-existing">
        <h1>{t('linking.newTitle')}</h1>
        {notice ? (
          <p className="notice" role="status" data-testid="link-notice">
            {notice}
          </p>
        ) : null}
        <ol className="link-steps muted">
          <li>{t('linking.newStep1')}</li>
          <li>{t('linking.newStep2')}</li>
          <li>{t('linking.newStep3')}</li>
        </ol>
        {failure && failure !== 'cancelled' ? (
          <div className="link-failure" role="alert" data-testid="link-error" data-error={failure}>
            <p className="error">{t(`linking.newErrors.${failure}`)}</p>
            <button
              type="button"
              className="primary wide"
              data-testid="link-retry-button"
              onClick={() => setAttempt((n) => n + 1)}
            >
              {t('linking.newCode')}
            </button>
          </div>
        ) : uri ? (
          <div className="link-code">
            <div className="qr-frame">
              <QrImage text={uri} alt={t('linking.qrAlt')} size={QR_SIZE} testId="link-qr" />
            </div>
            <p className="link-short-code">
              {t('linking.codeLabel')} <strong data-testid="link-code">{code}</strong>
            </p>
            <p className="link-waiting" role="status" aria-live="polite">
              <span className="spinner" aria-hidden="true" /> {t('linking.waiting')}
            </p>
            <p className="muted small-print">{t('linking.textHint')}</p>
            <div className="link-uri-row">
              <code className="link-uri" data-testid="link-uri">
                {uri}
              </code>
              <button
                type="button"
                className="secondary small"
                data-testid="link-copy-button"
                onClick={() => void app.chat.copy(uri).then((ok) => setCopied(ok))}
              >
                {copied ? t('linking.copied') : t('linking.copy')}
              </button>
            </div>
          </div>
        ) : (
          <p className="link-waiting" role="status" aria-busy="true">
            <span className="spinner" aria-hidden="true" /> {t('linking.preparing')}
          </p>
        )}
        <label className="field">
          <span>{t('linking.deviceName')}</span>
          <input
            data-testid="link-device-name-input"
            value={name}
            maxLength={60}
            autoComplete="off"
            onChange={(e) => setName(e.target.value)}
          />
          <small className="muted">{t('linking.deviceNameHint')}</small>
        </label>
        <button type="button" className="secondary wide" data-testid="link-back-button" onClick={onBack}>
          {t('linking.back')}
        </button>
      </div>
    </main>
  );
}

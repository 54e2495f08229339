/**
 * The login password in settings: whether one is set, and setting, changing (new password typed twice) or removing
 * it. The password goes to the core, which runs OPAQUE with the server (it never learns the password) and seals the
 * account backup under it; this component keeps only what the form shows.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { PasswordResult } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';

/** Mirrors the core's floor (NIST SP 800-63B) so the user hears about it before a round trip. */
const MIN_PASSWORD_CHARS = 8;

export function PasswordSection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [revision, setRevision] = useState(0);
  const enabled = useLive<boolean | null>(() => app.settings.hasPassword(), [revision]);
  const [password, setPassword] = useState('');
  const [repeat, setRepeat] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ text: string; error: boolean } | null>(null);

  const report = (result: PasswordResult, done: string): void => {
    setMessage(
      result === 'saved'
        ? { text: t(done), error: false }
        : { text: t(result === 'invalid' ? 'password.tooShort' : 'password.network'), error: true },
    );
    if (result === 'saved') {
      setPassword('');
      setRepeat('');
      setRevision((r) => r + 1);
    }
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if ([...password].length < MIN_PASSWORD_CHARS) {
      setMessage({ text: t('password.tooShort'), error: true });
      return;
    }
    if (password !== repeat) {
      setMessage({ text: t('password.mismatch'), error: true });
      return;
    }
    setBusy(true);
    report(await app.settings.setPassword(password), 'password.saved');
    setBusy(false);
  };

  const remove = async () => {
    setBusy(true);
    report(await app.settings.removePassword(), 'password.removed');
    setBusy(false);
  };

  return (
    <div className="card" data-testid="password-section">
      <h2>{t('password.title')}</h2>
      <p className="muted">{t('password.text')}</p>
      <p data-testid="password-status" role="status">
        {enabled === undefined
          ? t('password.loading')
          : enabled === null
            ? t('password.unavailable')
            : enabled
              ? t('password.on')
              : t('password.off')}
      </p>
      <form onSubmit={(e) => void save(e)} noValidate>
        <label className="field">
          <span>{enabled ? t('password.new') : t('password.choose')}</span>
          <input
            data-testid="settings-password-input"
            type="password"
            autoComplete="new-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <label className="field">
          <span>{t('password.repeat')}</span>
          <input
            data-testid="settings-password-repeat"
            type="password"
            autoComplete="new-password"
            value={repeat}
            onChange={(e) => setRepeat(e.target.value)}
          />
        </label>
        <div className="dialog-actions">
          <button type="submit" className="primary" data-testid="password-save-button" disabled={busy}>
            {enabled ? t('password.change') : t('password.set')}
          </button>
          {enabled ? (
            <button
              type="button"
              className="secondary"
              data-testid="password-remove-button"
              disabled={busy}
              onClick={() => void remove()}
            >
              {t('password.remove')}
            </button>
          ) : null}
        </div>
      </form>
      {message ? (
        <p
          className={message.error ? 'error' : 'muted'}
          role={message.error ? 'alert' : 'status'}
          data-testid="password-message"
        >
          {message.text}
        </p>
      ) : null}
    </div>
  );
}

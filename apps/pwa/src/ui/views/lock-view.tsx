/**
 * The unlock screen shown while the local data is protected by a passphrase.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconLock } from '../icons.js';
import { useApp } from '../use-app.js';

export function LockView(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [passphrase, setPassphrase] = useState('');
  const [busy, setBusy] = useState(false);
  const [wrong, setWrong] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    const ok = await app.onboarding.unlock(passphrase);
    setBusy(false);
    setWrong(!ok);
    if (ok) setPassphrase('');
  };
  return (
    <main className="onboarding">
      <form className="onboarding-card" onSubmit={(e) => void submit(e)}>
        <span className="lock-badge">
          <IconLock />
        </span>
        <h1>{t('lock.title')}</h1>
        <p className="muted">{t('lock.text')}</p>
        <label className="field">
          <span>{t('lock.passphrase')}</span>
          <input
            data-testid="unlock-input"
            type="password"
            autoComplete="current-password"
            value={passphrase}
            onChange={(e) => setPassphrase(e.target.value)}
            aria-invalid={wrong || undefined}
            aria-describedby={wrong ? 'unlock-error' : undefined}
          />
        </label>
        {wrong ? (
          <p className="error" role="alert" id="unlock-error">
            {t('lock.wrong')}
          </p>
        ) : null}
        <button className="primary wide" type="submit" data-testid="unlock-button" disabled={busy || !passphrase}>
          {busy ? t('lock.unlocking') : t('lock.unlock')}
        </button>
      </form>
    </main>
  );
}

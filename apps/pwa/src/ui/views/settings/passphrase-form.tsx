/**
 * The passphrase forms of the settings: set one (twice, at least the vault's minimum length) or remove it (with the
 * current one), and change it (the current one, then the new one twice), showing the outcome. The vault does the
 * cryptography; these forms only collect and report.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { useApp } from '../../use-app.js';

export function PassphraseForm({ set }: { set: boolean }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [passphrase, setPassphrase] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string } | null>(null);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(null);
    if (!set) {
      if (passphrase.length < app.settings.minPassphraseLength)
        return setMessage({
          kind: 'error',
          text: t('settings.passphraseShort', { count: app.settings.minPassphraseLength }),
        });
      if (passphrase !== confirm) return setMessage({ kind: 'error', text: t('settings.passphraseMismatch') });
      setBusy(true);
      try {
        await app.settings.setPassphrase(passphrase);
        setMessage({ kind: 'success', text: t('settings.passphraseSaved') });
      } catch {
        setMessage({ kind: 'error', text: t('settings.passphraseFailed') });
      } finally {
        setBusy(false);
      }
    } else {
      setBusy(true);
      try {
        const ok = await app.settings.removePassphrase(passphrase);
        setMessage(
          ok ? { kind: 'success', text: t('settings.passphraseRemoved') } : { kind: 'error', text: t('lock.wrong') },
        );
      } catch {
        setMessage({ kind: 'error', text: t('settings.passphraseFailed') });
      } finally {
        setBusy(false);
      }
    }
    setPassphrase('');
    setConfirm('');
  };

  return (
    <form className="passphrase-form" onSubmit={(e) => void submit(e)}>
      <strong>{t('settings.passphrase')}</strong>
      <small className="muted">
        {set ? t('settings.passphraseOn') : t('settings.passphraseHint', { count: app.settings.minPassphraseLength })}
      </small>
      <label className="field">
        <span>{set ? t('settings.currentPassphrase') : t('settings.newPassphrase')}</span>
        <input
          type="password"
          data-testid="passphrase-input"
          autoComplete={set ? 'current-password' : 'new-password'}
          value={passphrase}
          onChange={(e) => setPassphrase(e.target.value)}
        />
      </label>
      {!set ? (
        <label className="field">
          <span>{t('settings.confirmPassphrase')}</span>
          <input
            type="password"
            data-testid="passphrase-confirm-input"
            autoComplete="new-password"
            value={confirm}
            onChange={(e) => setConfirm(e.target.value)}
          />
        </label>
      ) : null}
      {message ? (
        <p className={message.kind} role="status">
          {message.text}
        </p>
      ) : null}
      <button type="submit" className="secondary" data-testid="passphrase-submit" disabled={busy || !passphrase}>
        {busy ? t('settings.working') : set ? t('settings.removePassphrase') : t('settings.setPassphrase')}
      </button>
    </form>
  );
}

/**
 * Changing the passphrase: the current one (checked by the vault), then the new one twice. The keys stay the same,
 * so no row is re-encrypted and the other tabs keep working; the next unlock takes the new passphrase.
 */
export function ChangePassphraseForm(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'error' | 'success'; text: string } | null>(null);
  const min = app.settings.minPassphraseLength;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setMessage(null);
    if (next.length < min) return setMessage({ kind: 'error', text: t('settings.passphraseShort', { count: min }) });
    if (next !== confirm) return setMessage({ kind: 'error', text: t('settings.passphraseMismatch') });
    setBusy(true);
    try {
      const ok = await app.settings.changePassphrase(current, next);
      setMessage(
        ok ? { kind: 'success', text: t('settings.passphraseChanged') } : { kind: 'error', text: t('lock.wrong') },
      );
      if (ok) {
        setCurrent('');
        setNext('');
        setConfirm('');
      }
    } catch {
      setMessage({ kind: 'error', text: t('settings.passphraseFailed') });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="passphrase-form" onSubmit={(e) => void submit(e)} data-testid="change-passphrase-form">
      <strong>{t('settings.changePassphrase')}</strong>
      <label className="field">
        <span>{t('settings.currentPassphrase')}</span>
        <input
          type="password"
          data-testid="passphrase-current-input"
          autoComplete="current-password"
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
        />
      </label>
      <label className="field">
        <span>{t('settings.newPassphrase')}</span>
        <input
          type="password"
          data-testid="passphrase-new-input"
          autoComplete="new-password"
          value={next}
          onChange={(e) => setNext(e.target.value)}
        />
      </label>
      <label className="field">
        <span>{t('settings.confirmPassphrase')}</span>
        <input
          type="password"
          data-testid="passphrase-new-confirm-input"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
        />
      </label>
      {message ? (
        <p className={message.kind} role="status">
          {message.text}
        </p>
      ) : null}
      <button
        type="submit"
        className="secondary"
        data-testid="passphrase-change-submit"
        disabled={busy || !current || !next}
      >
        {busy ? t('settings.working') : t('settings.changePassphrase')}
      </button>
    </form>
  );
}

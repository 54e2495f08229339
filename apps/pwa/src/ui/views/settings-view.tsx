/**
 * Settings: language, notification previews and permission, persistent storage, and the passphrase that locks
 * the local data.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { LANGUAGES } from '../i18n/index.js';
import { IconBack } from '../icons.js';
import { useApp, useAppState } from '../use-app.js';

export function SettingsView({ onBack }: { onBack: () => void }): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const state = useAppState();
  const username = state.phase.kind === 'ready' ? state.phase.username : '';
  return (
    <section className="chat-pane settings-pane" aria-labelledby="settings-title">
      <header className="toolbar">
        <button type="button" className="icon-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <h1 id="settings-title" className="toolbar-heading">
          {t('settings.title')}
        </h1>
      </header>
      <div className="contact-body">
        <div className="card">
          <h2>{t('settings.account')}</h2>
          <p>
            <span className="muted">{t('settings.username')}</span> <strong>@{username}</strong>
          </p>
        </div>
        <div className="card">
          <h2>{t('settings.appearance')}</h2>
          <label className="field">
            <span>{t('settings.language')}</span>
            <select
              data-testid="language-select"
              value={state.settings.language ?? ''}
              onChange={(e) => void app.settings.setLanguage(e.target.value || null)}
            >
              <option value="">
                {t('settings.languageAuto', { current: LANGUAGES.find((l) => l.code === i18n.language)?.label ?? '' })}
              </option>
              {LANGUAGES.map((l) => (
                <option key={l.code} value={l.code} lang={l.code}>
                  {l.label}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div className="card">
          <h2>{t('settings.notifications')}</h2>
          <label className="switch-row">
            <span>
              <strong>{t('settings.previews')}</strong>
              <small className="muted">{t('settings.previewsHint')}</small>
            </span>
            <input
              type="checkbox"
              role="switch"
              data-testid="previews-toggle"
              checked={state.settings.previews}
              onChange={(e) => void app.settings.setPreviews(e.target.checked)}
            />
          </label>
          <div className="switch-row">
            <span>
              <strong>{t('settings.permission')}</strong>
              <small className="muted">{t(`settings.permissionState.${state.notifications}`)}</small>
            </span>
            {state.notifications === 'default' ? (
              <button type="button" className="secondary small" onClick={() => void app.settings.enableNotifications()}>
                {t('settings.enable')}
              </button>
            ) : null}
          </div>
        </div>
        <div className="card">
          <h2>{t('settings.privacy')}</h2>
          <div className="switch-row">
            <span>
              <strong>{t('settings.storage')}</strong>
              <small className="muted">
                {state.persisted ? t('settings.storagePersisted') : t('settings.storageBestEffort')}
              </small>
            </span>
            {!state.persisted ? (
              <button type="button" className="secondary small" onClick={() => void app.settings.requestPersistence()}>
                {t('settings.storageAction')}
              </button>
            ) : null}
          </div>
          <PassphraseForm set={state.passphraseSet} />
        </div>
      </div>
    </section>
  );
}

function PassphraseForm({ set }: { set: boolean }): ReactElement {
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

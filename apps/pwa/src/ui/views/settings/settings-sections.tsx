/**
 * The sections of the settings screen, each a card: the account, appearance (language and colour theme),
 * notifications (previews and permission), privacy (who may send sealed messages, persistent storage, the passphrase
 * and "lock now"), and leaving
 * (log out, delete the account: leave-section.tsx). They read the app state and call the settings view model; they
 * keep no state of their own beyond the forms' fields.
 */
import type { ReactElement } from 'react';
import type { ThemeChoice } from '../../../app/model.js';
import { useTranslation } from 'react-i18next';
import { LANGUAGES } from '../../i18n/index.js';
import { useApp, useAppState } from '../../use-app.js';
import { PushUnavailable } from '../platform-limits/push-unavailable.js';
import { ChangePassphraseForm, PassphraseForm } from './passphrase-form.js';
import { SealedSenderSetting } from './sealed-sender-setting.js';

export function AccountSection(): ReactElement {
  const { t } = useTranslation();
  const state = useAppState();
  const username = state.phase.kind === 'ready' ? state.phase.username : '';
  return (
    <div className="card">
      <h2>{t('settings.account')}</h2>
      <p>
        <span className="muted">{t('settings.username')}</span> <strong>@{username}</strong>
      </p>
    </div>
  );
}

export function AppearanceSection(): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const state = useAppState();
  return (
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
      <fieldset className="theme-choice" data-testid="theme-choice">
        <legend>{t('settings.theme')}</legend>
        {THEMES.map((theme) => (
          <label key={theme}>
            <input
              type="radio"
              name="theme"
              value={theme}
              data-testid={`theme-${theme}`}
              checked={state.theme === theme}
              onChange={() => app.settings.setTheme(theme)}
            />
            {t(`settings.themes.${theme}`)}
          </label>
        ))}
      </fieldset>
    </div>
  );
}

const THEMES: ThemeChoice[] = ['system', 'light', 'dark'];

export function NotificationsSection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const state = useAppState();
  return (
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
      {state.push !== 'supported' ? (
        <div className="switch-row">
          <PushUnavailable push={state.push} />
        </div>
      ) : (
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
      )}
    </div>
  );
}

export function PrivacySection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const state = useAppState();
  return (
    <div className="card">
      <h2>{t('settings.privacy')}</h2>
      <SealedSenderSetting />
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
      {state.passphraseSet ? <ChangePassphraseForm /> : null}
      <PassphraseForm set={state.passphraseSet} />
      {state.passphraseSet ? (
        <div className="switch-row">
          <span>
            <strong>{t('settings.lockNow')}</strong>
            <small className="muted">{t('settings.lockNowHint')}</small>
          </span>
          <button
            type="button"
            className="secondary small"
            data-testid="lock-now-button"
            onClick={() => app.settings.lockNow()}
          >
            {t('settings.lockNow')}
          </button>
        </div>
      ) : null}
    </div>
  );
}

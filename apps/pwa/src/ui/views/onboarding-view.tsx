/**
 * First run: pick a username (and an invite code when the server asks for one, and optionally a password to log in
 * on other devices with), or "I already have an account": link this browser to an existing account by QR code
 * (linking/link-existing-view.tsx) or log in to it with its username and password; then keep data on this device
 * (persistent storage) and optionally turn on notifications, both from a tap. Keys are generated locally by the
 * app model; nothing secret leaves the browser. When the server registers by single sign-on, the username form gives
 * way to "Sign in with …" (a plain link to the server's `/v1/sso/authorize`); coming back, this screen shows the
 * registration under way, why the sign-in failed, or (for a person who has an account) the linking steps.
 */
import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ProfileSaveResult, ServerInfo, SsoOnboarding } from '../../app/model.js';
import { useApp, useAppState } from '../use-app.js';
import { LinkExistingView } from './linking/link-existing-view.js';
import { InstallBanner } from './platform-limits/install-banner.js';
import { PushUnavailable } from './platform-limits/push-unavailable.js';

/** Mirrors the server's username rule so the user hears about a typo before a round trip. */
const USERNAME_PATTERN = /^[A-Za-z0-9_.]{3,32}$/;
/** Mirrors the core's password floor (NIST SP 800-63B), so the user hears about it before the keys are made. */
const MIN_PASSWORD_CHARS = 8;

/** Log in to an existing account with its username and password (OPAQUE in the core: the server never sees it). */
function LoginForm({ onCancel }: { onCancel: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim();
    if (!USERNAME_PATTERN.test(name) || password === '') {
      setError(t('login.errors.invalid'));
      return;
    }
    setBusy(true);
    setError(null);
    const result = await app.onboarding.login(name, password);
    setBusy(false);
    if (!result.ok) setError(t(`login.errors.${result.error}`));
  };
  return (
    <form onSubmit={(e) => void submit(e)} noValidate data-testid="login-form">
      <h2>{t('login.title')}</h2>
      <p className="muted">{t('login.text')}</p>
      <label className="field">
        <span>{t('login.username')}</span>
        <input
          data-testid="login-username-input"
          name="username"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          required
        />
      </label>
      <label className="field">
        <span>{t('login.password')}</span>
        <input
          data-testid="login-password-input"
          name="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          aria-invalid={error ? true : undefined}
          required
        />
      </label>
      {error ? (
        <p className="error" role="alert" data-testid="login-error">
          {error}
        </p>
      ) : null}
      <button className="primary wide" data-testid="login-submit-button" type="submit" disabled={busy}>
        {busy ? t('login.busy') : t('login.submit')}
      </button>
      <button className="secondary wide" type="button" onClick={onCancel} disabled={busy}>
        {t('login.back')}
      </button>
    </form>
  );
}

/** The single sign-on part of the first screen: the button, and what the last sign-in came back with. */
function SsoSignIn({ info, sso }: { info: ServerInfo; sso: SsoOnboarding | undefined }): ReactElement {
  const { t } = useTranslation();
  const registering = sso?.state === 'registering';
  return (
    <div className="sso-sign-in">
      {registering ? (
        <p className="link-waiting" role="status" aria-busy="true" data-testid="sso-registering">
          <span className="spinner" aria-hidden="true" /> {t('sso.registering', { username: sso.username })}
        </p>
      ) : null}
      {sso?.state === 'error' ? (
        <p className="error" role="alert" data-testid="sso-error" data-error={sso.reason}>
          {t(`sso.errors.${sso.reason}`)}
        </p>
      ) : null}
      {registering ? null : (
        <>
          <a className="primary wide" data-testid="sso-login-button" href="/v1/sso/authorize">
            {t('sso.signIn', { name: info.ssoName ?? info.name })}
          </a>
          <p className="muted">{t('sso.hint')}</p>
        </>
      )}
    </div>
  );
}

export function OnboardingView({
  info,
  offline,
  sso,
}: {
  info: ServerInfo | null;
  offline: boolean;
  sso?: SsoOnboarding | undefined;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [username, setUsername] = useState('');
  // An admin's invite link fills the code in; the person can still change it.
  const [invite, setInvite] = useState(() => app.onboarding.inviteFromLink ?? '');
  const [password, setPassword] = useState('');
  const [loggingIn, setLoggingIn] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [linking, setLinking] = useState(false);
  const needsInvite = info?.registration === 'invite';

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim();
    if (!USERNAME_PATTERN.test(name)) {
      setError(t('onboarding.errors.invalid'));
      return;
    }
    if (password !== '' && [...password].length < MIN_PASSWORD_CHARS) {
      setError(t('onboarding.errors.password'));
      return;
    }
    setBusy(true);
    setError(null);
    const result = await app.onboarding.register(name, needsInvite ? invite.trim() : null, password || null);
    setBusy(false);
    if (!result.ok) setError(t(`onboarding.errors.${result.error}`));
  };

  const [ssoLinkDismissed, setSsoLinkDismissed] = useState(false);
  const bySso = info?.registration === 'sso';

  if (linking) return <LinkExistingView onBack={() => setLinking(false)} />;
  if (sso?.state === 'link' && !ssoLinkDismissed)
    return (
      <LinkExistingView
        onBack={() => setSsoLinkDismissed(true)}
        notice={t('sso.linkNotice', { username: sso.username })}
      />
    );

  return (
    <main className="onboarding">
      <div className="onboarding-card">
        <img className="onboarding-logo" src="/icons/icon-192.png" alt="" width={72} height={72} />
        <h1>{t('onboarding.title')}</h1>
        <p className="muted">{t('onboarding.subtitle')}</p>
        <InstallBanner />
        {!info ? (
          <p className="notice" role="status">
            {offline ? t('onboarding.offline') : t('onboarding.unreachable')}
          </p>
        ) : null}
        {loggingIn ? <LoginForm onCancel={() => setLoggingIn(false)} /> : null}
        {info && bySso && !loggingIn ? <SsoSignIn info={info} sso={sso} /> : null}
        <form onSubmit={(e) => void submit(e)} noValidate hidden={loggingIn || bySso}>
          <label className="field">
            <span>{t('onboarding.username')}</span>
            <input
              data-testid="username-input"
              name="username"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              aria-describedby={error ? 'username-error username-hint' : 'username-hint'}
              aria-invalid={error ? true : undefined}
              required
            />
            <small id="username-hint" className="muted">
              {t('onboarding.usernameHint')}
            </small>
          </label>
          {needsInvite ? (
            <label className="field">
              <span>{t('onboarding.invite')}</span>
              <input
                data-testid="invite-input"
                name="invite"
                autoComplete="off"
                value={invite}
                onChange={(e) => setInvite(e.target.value)}
                required
              />
            </label>
          ) : null}
          <label className="field">
            <span>{t('onboarding.password')}</span>
            <input
              data-testid="password-input"
              name="new-password"
              type="password"
              autoComplete="new-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-describedby="password-hint"
            />
            <small id="password-hint" className="muted">
              {t('onboarding.passwordHint')}
            </small>
          </label>
          {error ? (
            <p className="error" role="alert" id="username-error" data-testid="field-error">
              {error}
            </p>
          ) : null}
          <button className="primary wide" data-testid="register-button" type="submit" disabled={busy}>
            {busy ? t('onboarding.creating') : t('onboarding.create')}
          </button>
        </form>
        {loggingIn ? null : (
          <div className="onboarding-alt">
            <span className="muted">{t('onboarding.haveAccount')}</span>
            {/* Under single sign-on a new device is linked after signing in again: the sign-in button starts it. */}
            {bySso ? null : (
              <button
                type="button"
                className="secondary wide"
                data-testid="link-existing-button"
                disabled={busy}
                onClick={() => setLinking(true)}
              >
                {t('onboarding.linkExisting')}
              </button>
            )}
            <button
              type="button"
              className="secondary wide"
              data-testid="login-button"
              disabled={busy}
              onClick={() => setLoggingIn(true)}
            >
              {t('login.open')}
            </button>
          </div>
        )}
        <p className="fineprint muted">{t('onboarding.privacy')}</p>
      </div>
    </main>
  );
}

/**
 * The optional profile step of the welcome screen: a display name, encrypted and saved on a tap (skipped by simply
 * continuing; the photo and about line are in Settings).
 */
function WelcomeProfileStep(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [name, setName] = useState('');
  const [result, setResult] = useState<ProfileSaveResult | null>(null);
  // A linked device arrives with the account's profile: its name is shown, not an empty field that would replace it.
  useEffect(() => {
    let cancelled = false;
    app.settings.profile().then(
      (own) => {
        if (!cancelled && own.name !== '') setName((typed) => (typed === '' ? own.name : typed));
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [app]);
  return (
    <li>
      <div>
        <strong>{t('welcome.profileTitle')}</strong>
        <p className="muted">{t('welcome.profileText')}</p>
        <label className="field">
          <span>{t('profile.name')}</span>
          <input
            data-testid="welcome-profile-name"
            value={name}
            maxLength={100}
            autoComplete="name"
            aria-invalid={result === 'invalid'}
            onChange={(e) => setName(e.target.value)}
          />
        </label>
        {result && result !== 'saved' ? (
          <p className="error" role="status">
            {t(result === 'invalid' ? 'profile.invalid' : 'profile.network')}
          </p>
        ) : null}
      </div>
      <button
        type="button"
        className="secondary"
        data-testid="welcome-profile-save"
        disabled={name.trim() === '' || result === 'saved'}
        onClick={() => void app.settings.saveProfile({ name, about: '' }).then(setResult)}
      >
        {result === 'saved' ? t('welcome.done') : t('profile.save')}
      </button>
    </li>
  );
}

/**
 * Shown once after registration: persistent storage and notifications, each from an explicit tap. When the browser
 * declines to keep the data, or notifications are blocked for the site, it says so and what the user can do.
 */
export function WelcomeSteps({ onDone }: { onDone: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const state = useAppState();
  /** The browser answered "Keep" with no (Chromium decides by engagement, Firefox asks, Safari rarely grants). */
  const [storageDeclined, setStorageDeclined] = useState(false);
  const keep = async () => {
    const granted = await app.onboarding.requestPersistence();
    setStorageDeclined(!granted);
  };
  return (
    <main className="onboarding">
      <div className="onboarding-card">
        <h1>{t('welcome.title')}</h1>
        <ul className="steps">
          <li>
            <div>
              <strong>{t('welcome.storageTitle')}</strong>
              <p className="muted">{t('welcome.storageText')}</p>
              {storageDeclined && state.persisted !== true ? (
                <p className="hint" role="status" data-testid="storage-declined">
                  {t('welcome.storageDeclined')}
                </p>
              ) : null}
            </div>
            <button
              type="button"
              className="secondary"
              data-testid="storage-keep"
              onClick={() => void keep()}
              disabled={state.persisted === true}
            >
              {state.persisted ? t('welcome.done') : t('welcome.storageAction')}
            </button>
          </li>
          <WelcomeProfileStep />
          <li>
            {state.push !== 'supported' ? (
              <PushUnavailable push={state.push} />
            ) : (
              <>
                <div>
                  <strong>{t('welcome.notifyTitle')}</strong>
                  <p className="muted">{t('welcome.notifyText')}</p>
                  {state.notifications === 'denied' ? (
                    <p className="hint" data-testid="notifications-blocked">
                      {t('welcome.notifyBlocked')}
                    </p>
                  ) : null}
                </div>
                <button
                  type="button"
                  className="secondary"
                  onClick={() => void app.onboarding.enableNotifications()}
                  disabled={state.notifications !== 'default'}
                >
                  {t(`welcome.notify.${state.notifications}`)}
                </button>
              </>
            )}
          </li>
        </ul>
        <button type="button" className="primary wide" data-testid="welcome-done" onClick={onDone}>
          {t('welcome.continue')}
        </button>
      </div>
    </main>
  );
}

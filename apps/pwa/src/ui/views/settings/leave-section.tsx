/**
 * Leaving Cove, the last card of the settings: log out of this browser and delete the account, each behind a
 * confirmation dialog that says what will happen (deleting also asks for the username, typed). On success the app
 * wipes this browser's data and every tab reloads into onboarding; on failure the dialog says why and nothing
 * changed. The settings view model does the work; this only asks and reports.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AccountActionResult } from '../../../app/model.js';
import { Modal } from '../../modal.js';
import { useApp, useAppState } from '../../use-app.js';

export function LeaveSection(): ReactElement {
  const { t } = useTranslation();
  const [dialog, setDialog] = useState<'logout' | 'delete' | null>(null);
  return (
    <div className="card danger-zone">
      <h2>{t('leave.title')}</h2>
      <div className="switch-row">
        <span>
          <strong>{t('leave.logout')}</strong>
          <small className="muted">{t('leave.logoutHint')}</small>
        </span>
        <button
          type="button"
          className="secondary small"
          data-testid="logout-button"
          onClick={() => setDialog('logout')}
        >
          {t('leave.logout')}
        </button>
      </div>
      <div className="switch-row">
        <span>
          <strong>{t('leave.delete')}</strong>
          <small className="muted">{t('leave.deleteHint')}</small>
        </span>
        <button
          type="button"
          className="secondary small danger"
          data-testid="delete-account-button"
          onClick={() => setDialog('delete')}
        >
          {t('leave.delete')}
        </button>
      </div>
      {dialog === 'logout' ? <LogoutDialog onClose={() => setDialog(null)} /> : null}
      {dialog === 'delete' ? <DeleteAccountDialog onClose={() => setDialog(null)} /> : null}
    </div>
  );
}

/** The words for a failed attempt. */
function useFailureText(): (result: AccountActionResult) => string | null {
  const { t } = useTranslation();
  return (result) => (result.ok ? null : t(`leave.errors.${result.error}`));
}

function LogoutDialog({ onClose }: { onClose: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const failure = useFailureText();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    const result = await app.settings.logout();
    // On success the page reloads; the dialog stays busy until then.
    if (!result.ok) {
      setBusy(false);
      setError(failure(result));
    }
  };
  return (
    <Modal titleId="logout-title" title={t('leave.logoutTitle')} testId="logout-dialog" onClose={onClose}>
      <p>{t('leave.logoutText')}</p>
      <p className="muted">{t('leave.logoutPrimary')}</p>
      {error ? (
        <p className="error" role="alert">
          {error}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="secondary" onClick={onClose} disabled={busy}>
          {t('common.cancel')}
        </button>
        <button
          type="button"
          className="primary"
          data-testid="logout-confirm"
          disabled={busy}
          onClick={() => void confirm()}
        >
          {busy ? t('settings.working') : t('leave.logout')}
        </button>
      </div>
    </Modal>
  );
}

function DeleteAccountDialog({ onClose }: { onClose: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const state = useAppState();
  const failure = useFailureText();
  const username = state.phase.kind === 'ready' ? state.phase.username : '';
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const matches = typed.trim().toLowerCase() === username.toLowerCase() && username !== '';
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!matches) return setError(t('leave.errors.wrong-confirmation'));
    setBusy(true);
    setError(null);
    const result = await app.settings.deleteAccount(typed);
    if (!result.ok) {
      setBusy(false);
      setError(failure(result));
    }
  };
  return (
    <Modal
      titleId="delete-account-title"
      title={t('leave.deleteTitle')}
      testId="delete-account-dialog"
      onClose={onClose}
    >
      <form onSubmit={(e) => void submit(e)}>
        <p>{t('leave.deleteText')}</p>
        <p className="muted">{t('leave.deleteLimits')}</p>
        <label className="field">
          <span>{t('leave.deleteType', { username })}</span>
          <input
            data-testid="delete-account-input"
            autoComplete="off"
            autoCapitalize="off"
            spellCheck={false}
            value={typed}
            aria-invalid={error !== null || undefined}
            onChange={(e) => setTyped(e.target.value)}
          />
        </label>
        {error ? (
          <p className="error" role="alert">
            {error}
          </p>
        ) : null}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={onClose} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button type="submit" className="danger" data-testid="delete-account-confirm" disabled={busy || !matches}>
            {busy ? t('settings.working') : t('leave.deleteConfirm')}
          </button>
        </div>
      </form>
    </Modal>
  );
}

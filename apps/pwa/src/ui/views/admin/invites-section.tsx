/**
 * The console's invites card: create an invite (uses, days valid) and show its code once, with a copy button and as
 * a link that carries it; list the invites (uses left, expiry, revoked or expired) and revoke a live one. Display
 * only: it acts through the admin view model. The code is not kept anywhere here after the card closes.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminCreatedInvite, AdminFailure, AdminInviteView, AdminOutcome } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';
import { adminErrorKey, MINUTE } from './admin-errors.js';
import { NumberField } from './number-field.js';

/** The form's defaults: one person, a week (the server's own default lifetime). */
const DEFAULT_USES = 1;
const DEFAULT_DAYS = 7;
/** The server's bounds (MAX_INVITE_USES, a year's lifetime), so the form refuses what the server would. */
const MAX_USES = 10_000;
const MAX_DAYS = 366;

export function InvitesSection(): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [reload, setReload] = useState(0);
  const [uses, setUses] = useState(String(DEFAULT_USES));
  const [days, setDays] = useState(String(DEFAULT_DAYS));
  const [created, setCreated] = useState<AdminCreatedInvite | null>(null);
  const [copied, setCopied] = useState<'code' | 'link' | null>(null);
  const [error, setError] = useState<AdminFailure | null>(null);
  const [busy, setBusy] = useState(false);
  const invites = useLive<AdminOutcome<AdminInviteView[]>>(() => app.admin.invites(), [reload]);
  const time = (ms: number) => new Date(ms).toLocaleString(i18n.language, MINUTE);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setCopied(null);
    const outcome = await app.admin.createInvite(Number(uses), Number(days));
    setBusy(false);
    if (outcome.ok) setCreated(outcome.value);
    else setError(outcome.error);
    setReload((n) => n + 1);
  };

  const revoke = async (id: string) => {
    setError(null);
    const outcome = await app.admin.revokeInvite(id);
    if (!outcome.ok) setError(outcome.error);
    setReload((n) => n + 1);
  };

  const copy = async (what: 'code' | 'link', text: string) => {
    setCopied((await app.admin.copy(text)) ? what : null);
  };

  return (
    <div className="card" data-testid="admin-invites">
      <h2 id="admin-invites-title">{t('admin.invites.title')}</h2>
      <form className="admin-inline-form" onSubmit={(e) => void create(e)}>
        <NumberField
          label={t('admin.invites.uses')}
          testId="admin-invite-uses-input"
          value={uses}
          onChange={setUses}
          min={1}
          max={MAX_USES}
          step={1}
          required
        />
        <NumberField
          label={t('admin.invites.days')}
          testId="admin-invite-days-input"
          value={days}
          onChange={setDays}
          min={1}
          max={MAX_DAYS}
          step={1}
          required
        />
        <button type="submit" className="primary" data-testid="admin-invite-create-button" disabled={busy}>
          {busy ? t('settings.working') : t('admin.invites.create')}
        </button>
      </form>
      {error ? (
        <p className="error" role="alert">
          {t(adminErrorKey(error))}
        </p>
      ) : null}
      {created ? (
        <div className="admin-created" data-testid="admin-invite-created">
          <p className="muted">
            {t('admin.invites.createdHint', { count: created.uses, until: time(created.expiresAt) })}
          </p>
          <div className="field-with-button">
            <code className="admin-code" data-testid="admin-invite-code">
              {created.code}
            </code>
            <button
              type="button"
              className="secondary small"
              data-testid="admin-invite-copy-button"
              onClick={() => void copy('code', created.code)}
            >
              {copied === 'code' ? t('admin.invites.copied') : t('admin.invites.copy')}
            </button>
          </div>
          <div className="field-with-button">
            <a className="admin-code" href={created.link} data-testid="admin-invite-link">
              {created.link}
            </a>
            <button
              type="button"
              className="secondary small"
              data-testid="admin-invite-copy-link-button"
              onClick={() => void copy('link', created.link)}
            >
              {copied === 'link' ? t('admin.invites.copied') : t('admin.invites.copyLink')}
            </button>
          </div>
        </div>
      ) : null}
      {invites === undefined ? null : !invites.ok ? (
        <p className="error">{t(adminErrorKey(invites.error))}</p>
      ) : invites.value.length === 0 ? (
        <p className="muted">{t('admin.invites.none')}</p>
      ) : (
        <ul className="admin-list" aria-labelledby="admin-invites-title">
          {invites.value.map((i) => (
            <li key={i.id} className="admin-row" data-testid="admin-invite-row" data-live={i.live || undefined}>
              <span className="device-text">
                <strong>{t('admin.invites.usesLeft', { left: i.usesLeft, total: i.uses })}</strong>
                <small className="muted">
                  {i.revoked
                    ? t('admin.invites.revoked')
                    : i.live
                      ? t('admin.invites.expires', { time: time(i.expiresAt) })
                      : t('admin.invites.spent')}
                </small>
              </span>
              {i.live ? (
                <button
                  type="button"
                  className="secondary small danger"
                  data-testid="admin-invite-revoke-button"
                  onClick={() => void revoke(i.id)}
                >
                  {t('admin.invites.revoke')}
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

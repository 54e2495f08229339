/**
 * The console's members card: each member's name, certified role, join day, last active day and devices (count and
 * list); disable or enable an account and remove one device, each behind a confirmation that says what happens;
 * grant admin or member (only the owner's device can sign the certificate: others see the buttons disabled with the
 * reason). Display only: it acts through the admin view model and reloads the list after each change.
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminAccess, AdminFailure, AdminMemberView, AdminOutcome } from '../../../app/model.js';
import { Modal } from '../../modal.js';
import { useApp, useLive } from '../../use-app.js';
import { adminErrorKey, DAY } from './admin-errors.js';

type Pending =
  | { kind: 'disable' | 'enable'; member: AdminMemberView }
  | { kind: 'device'; member: AdminMemberView; deviceId: number };

export function MembersSection({ access }: { access: AdminAccess }): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [reload, setReload] = useState(0);
  const [pending, setPending] = useState<Pending | null>(null);
  const [error, setError] = useState<AdminFailure | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const result = useLive<AdminOutcome<AdminMemberView[]>>(() => app.admin.members(), [reload]);
  const day = (ms: number) => new Date(ms).toLocaleDateString(i18n.language, DAY);
  const isoDay = (d: string | null) => (d ? new Date(`${d}T00:00:00Z`).toLocaleDateString(i18n.language, DAY) : '—');

  const grant = async (member: AdminMemberView, role: 'admin' | 'member') => {
    setBusy(member.accountId);
    setError(null);
    const outcome = await app.admin.grant(member.accountId, role);
    setBusy(null);
    if (!outcome.ok) setError(outcome.error);
    setReload((n) => n + 1);
  };

  return (
    <div className="card" data-testid="admin-members">
      <h2 id="admin-members-title">{t('admin.members.title')}</h2>
      {!access.canGrant ? (
        <p className="muted" data-testid="admin-grant-disabled-reason">
          {t('admin.members.grantOwnerOnly')}
        </p>
      ) : null}
      {error ? (
        <p className="error" role="alert">
          {t(adminErrorKey(error))}
        </p>
      ) : null}
      {result === undefined ? (
        <p className="muted" aria-busy="true">
          {t('admin.loading')}
        </p>
      ) : !result.ok ? (
        <p className="error" role="alert">
          {t(adminErrorKey(result.error))}
        </p>
      ) : (
        <ul className="admin-list" aria-labelledby="admin-members-title">
          {result.value.map((m) => (
            <li
              key={m.accountId}
              className="admin-member"
              data-testid="admin-member-row"
              data-username={m.name}
              data-role={m.role}
              data-disabled={m.disabled || undefined}
            >
              <div className="admin-member-head">
                <strong className="device-name">
                  {m.name}
                  <span
                    className={`device-badge${m.role === 'member' ? ' subtle' : ''}`}
                    data-testid="admin-member-role"
                  >
                    {t(`admin.roles.${m.role}`)}
                  </span>
                  {m.disabled ? <span className="device-badge danger-badge">{t('admin.members.disabled')}</span> : null}
                  {m.me ? <span className="device-badge subtle">{t('admin.members.you')}</span> : null}
                </strong>
                <small className="muted">
                  {t('admin.members.joined', { day: day(m.joinedAt) })} ·{' '}
                  {t('admin.members.lastActive', { day: isoDay(m.lastActiveDay) })} ·{' '}
                  <span data-testid="admin-member-device-count">
                    {t('admin.members.devices', { count: m.devices.length })}
                  </span>
                </small>
                {m.uncertified ? (
                  <small className="error" data-testid="admin-member-uncertified">
                    {t('admin.members.uncertified')}
                  </small>
                ) : null}
              </div>
              {m.devices.length ? (
                <ul className="admin-devices" aria-label={t('admin.members.deviceList', { name: m.name })}>
                  {m.devices.map((d) => (
                    <li key={d.deviceId} data-testid="admin-member-device" data-device-id={d.deviceId}>
                      <span className="muted">
                        {t('admin.members.device', { id: d.deviceId })} ·{' '}
                        {t('admin.members.lastActive', { day: isoDay(d.lastActiveDay) })}
                      </span>
                      {d.deviceId !== 1 && !m.me ? (
                        <button
                          type="button"
                          className="secondary small danger"
                          data-testid="admin-remove-device-button"
                          aria-label={t('admin.members.removeDeviceLabel', { id: d.deviceId, name: m.name })}
                          onClick={() => setPending({ kind: 'device', member: m, deviceId: d.deviceId })}
                        >
                          {t('admin.members.removeDevice')}
                        </button>
                      ) : null}
                    </li>
                  ))}
                </ul>
              ) : null}
              {!m.me && m.role !== 'owner' ? (
                <div className="admin-actions">
                  {m.disabled ? (
                    <button
                      type="button"
                      className="secondary small"
                      data-testid="admin-enable-button"
                      onClick={() => setPending({ kind: 'enable', member: m })}
                    >
                      {t('admin.members.enable')}
                    </button>
                  ) : (
                    <>
                      {m.role === 'member' ? (
                        <button
                          type="button"
                          className="secondary small"
                          data-testid="admin-grant-admin-button"
                          disabled={!access.canGrant || busy === m.accountId}
                          title={access.canGrant ? undefined : t('admin.members.grantOwnerOnly')}
                          onClick={() => void grant(m, 'admin')}
                        >
                          {t('admin.members.grantAdmin')}
                        </button>
                      ) : (
                        <button
                          type="button"
                          className="secondary small"
                          data-testid="admin-grant-member-button"
                          disabled={!access.canGrant || busy === m.accountId}
                          title={access.canGrant ? undefined : t('admin.members.grantOwnerOnly')}
                          onClick={() => void grant(m, 'member')}
                        >
                          {t('admin.members.grantMember')}
                        </button>
                      )}
                      <button
                        type="button"
                        className="secondary small danger"
                        data-testid="admin-disable-button"
                        onClick={() => setPending({ kind: 'disable', member: m })}
                      >
                        {t('admin.members.disable')}
                      </button>
                    </>
                  )}
                </div>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {pending ? (
        <ConfirmDialog
          pending={pending}
          onClose={(changed) => {
            setPending(null);
            if (changed) setReload((n) => n + 1);
          }}
        />
      ) : null}
    </div>
  );
}

function ConfirmDialog({ pending, onClose }: { pending: Pending; onClose: (changed: boolean) => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<AdminFailure | null>(null);
  const name = pending.member.name;
  const text =
    pending.kind === 'device'
      ? { title: t('admin.confirm.deviceTitle', { id: pending.deviceId, name }), body: t('admin.confirm.deviceText') }
      : pending.kind === 'disable'
        ? { title: t('admin.confirm.disableTitle', { name }), body: t('admin.confirm.disableText') }
        : { title: t('admin.confirm.enableTitle', { name }), body: t('admin.confirm.enableText') };
  const confirm = async () => {
    setBusy(true);
    setError(null);
    const { accountId } = pending.member;
    const outcome =
      pending.kind === 'device'
        ? await app.admin.removeDevice(accountId, pending.deviceId)
        : await app.admin.setDisabled(accountId, pending.kind === 'disable');
    setBusy(false);
    if (outcome.ok) onClose(true);
    else setError(outcome.error);
  };
  return (
    <Modal
      titleId="admin-confirm-title"
      title={text.title}
      testId="admin-confirm-dialog"
      onClose={() => onClose(false)}
    >
      <p>{text.body}</p>
      {error ? (
        <p className="error" role="alert">
          {t(adminErrorKey(error))}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="secondary" onClick={() => onClose(false)} disabled={busy}>
          {t('common.cancel')}
        </button>
        <button
          type="button"
          className={pending.kind === 'enable' ? 'primary' : 'danger'}
          data-testid="admin-confirm-button"
          disabled={busy}
          onClick={() => void confirm()}
        >
          {busy ? t('settings.working') : t(`admin.confirm.${pending.kind}`)}
        </button>
      </div>
    </Modal>
  );
}

/**
 * A group's info: its name (admins rename it), its members with their roles (`group-member-item`), and for admins
 * adding members by username, removing a member and making one an admin; anyone can leave. Members who are not
 * admins see the list and "Leave" only (the core refuses their changes anyway). A refusal is said in plain words.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { GroupActionResult, GroupMemberView } from '../../app/model.js';
import { Avatar } from '../avatar.js';
import { IconBack } from '../icons.js';
import { memberColourClass } from '../member-colour.js';
import { useApp, useLive } from '../use-app.js';

export function GroupInfoView({
  conversationId,
  onBack,
}: {
  conversationId: string;
  onBack: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const info = useLive(() => app.group.info(conversationId), [conversationId]);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [adding, setAdding] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirmLeave, setConfirmLeave] = useState(false);

  const run = async (action: () => Promise<GroupActionResult>, name = ''): Promise<boolean> => {
    setBusy(true);
    setError(null);
    const result = await action();
    setBusy(false);
    if (!result.ok) setError(t(`group.errors.${result.error}`, { name }));
    return result.ok;
  };

  const rename = async (event: FormEvent) => {
    event.preventDefault();
    if (renaming === null || !renaming.trim()) return;
    if (await run(() => app.group.rename(conversationId, renaming))) setRenaming(null);
  };

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const names = adding
      .split(/[\s,，]+/)
      .map((n) => n.replace(/^@/, ''))
      .filter(Boolean);
    if (names.length === 0) return;
    if (await run(() => app.group.add(conversationId, names), names.join(', '))) setAdding('');
  };

  return (
    <section className="chat-pane contact-pane" aria-labelledby="group-info-title">
      <header className="toolbar">
        <button type="button" className="icon-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <h1 id="group-info-title" className="toolbar-heading">
          {t('group.info')}
        </h1>
      </header>
      <div className="contact-body group-info">
        {info === undefined ? (
          <div aria-busy="true" />
        ) : (
          <>
            <div className="group-heading">
              <Avatar name={info.title} size={72} />
              {renaming !== null ? (
                <form className="inline-field" onSubmit={(e) => void rename(e)}>
                  <label className="visually-hidden" htmlFor="group-rename-input">
                    {t('group.name')}
                  </label>
                  <input
                    id="group-rename-input"
                    data-testid="group-rename-input"
                    autoFocus
                    maxLength={100}
                    value={renaming}
                    onChange={(e) => setRenaming(e.target.value)}
                  />
                  <button
                    type="submit"
                    className="primary small"
                    data-testid="group-rename-save"
                    disabled={busy || !renaming.trim()}
                  >
                    {t('group.save')}
                  </button>
                  <button type="button" className="secondary small" onClick={() => setRenaming(null)}>
                    {t('common.cancel')}
                  </button>
                </form>
              ) : (
                <h2 className="group-title" data-testid="group-title">
                  {info.title}
                </h2>
              )}
              <p className="muted">{t('group.memberCount', { count: info.members.length })}</p>
              {info.admin && renaming === null ? (
                <button
                  type="button"
                  className="secondary small"
                  data-testid="group-rename-button"
                  onClick={() => setRenaming(info.title)}
                >
                  {t('group.rename')}
                </button>
              ) : null}
            </div>
            {!info.active ? (
              <p className="banner" role="status">
                {t('group.inactive')}
              </p>
            ) : !info.admin ? (
              <p className="muted small-print" data-testid="group-admin-only-note">
                {t('group.onlyAdmins')}
              </p>
            ) : null}
            {error ? (
              <p className="error" role="alert" data-testid="group-error">
                {error}
              </p>
            ) : null}
            <h3 className="section-title">{t('group.members')}</h3>
            <ul className="group-members" aria-label={t('group.members')}>
              {info.members.map((member) => (
                <MemberRow
                  key={member.accountId}
                  member={member}
                  canManage={info.admin && !member.me}
                  busy={busy}
                  onRemove={() => void run(() => app.group.remove(conversationId, member.accountId), member.name)}
                  onMakeAdmin={() => void run(() => app.group.makeAdmin(conversationId, member.accountId), member.name)}
                />
              ))}
            </ul>
            {info.admin ? (
              <form className="field" onSubmit={(e) => void add(e)}>
                <label htmlFor="group-add-input">{t('group.addMembers')}</label>
                <div className="inline-field">
                  <input
                    id="group-add-input"
                    data-testid="group-add-input"
                    autoCapitalize="none"
                    autoComplete="off"
                    spellCheck={false}
                    value={adding}
                    placeholder={t('group.memberPlaceholder')}
                    onChange={(e) => setAdding(e.target.value)}
                  />
                  <button
                    type="submit"
                    className="secondary small"
                    data-testid="group-add-button"
                    disabled={busy || !adding.trim()}
                  >
                    {t('group.add')}
                  </button>
                </div>
              </form>
            ) : null}
            {info.active ? (
              confirmLeave ? (
                <div className="banner warn" role="alert">
                  <p>{t('group.leaveConfirm', { name: info.title })}</p>
                  <button
                    type="button"
                    className="danger-button small"
                    data-testid="group-leave-confirm"
                    disabled={busy}
                    onClick={() => void run(() => app.group.leave(conversationId)).then(() => setConfirmLeave(false))}
                  >
                    {t('group.leave')}
                  </button>
                  <button type="button" className="secondary small" onClick={() => setConfirmLeave(false)}>
                    {t('common.cancel')}
                  </button>
                </div>
              ) : (
                <button
                  type="button"
                  className="secondary wide danger-text"
                  data-testid="group-leave-button"
                  onClick={() => setConfirmLeave(true)}
                >
                  {t('group.leave')}
                </button>
              )
            ) : null}
          </>
        )}
      </div>
    </section>
  );
}

function MemberRow({
  member,
  canManage,
  busy,
  onRemove,
  onMakeAdmin,
}: {
  member: GroupMemberView;
  canManage: boolean;
  busy: boolean;
  onRemove: () => void;
  onMakeAdmin: () => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <li
      className="group-member"
      data-testid="group-member-item"
      data-username={member.name}
      data-role={member.role}
      data-me={member.me ? 'true' : undefined}
    >
      <Avatar name={member.name} size={36} />
      <span className="group-member-name">
        <span className={member.me ? undefined : `member-name ${memberColourClass(member.accountId)}`}>
          {member.me ? t('group.youSuffix', { name: member.name }) : member.name}
        </span>
        <span className={`role-badge role-${member.role}`} data-testid="group-member-role">
          {member.role === 'admin' ? t('group.admin') : t('group.member')}
        </span>
      </span>
      {canManage ? (
        <span className="group-member-actions">
          {member.role === 'member' ? (
            <button
              type="button"
              className="secondary small"
              data-testid="group-make-admin"
              aria-label={t('group.makeAdminMember', { name: member.name })}
              disabled={busy}
              onClick={onMakeAdmin}
            >
              {t('group.makeAdmin')}
            </button>
          ) : null}
          <button
            type="button"
            className="secondary small danger-text"
            data-testid="group-remove-member"
            aria-label={t('group.removeMember', { name: member.name })}
            disabled={busy}
            onClick={onRemove}
          >
            {t('group.remove')}
          </button>
        </span>
      ) : null}
    </li>
  );
}

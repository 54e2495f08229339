/**
 * Create a group: a modal dialog with the group's name and its members. Each username typed (Enter or "Add") is
 * checked against the server before it becomes a chip; chips can be removed (their × button, or Backspace in the
 * empty field). Creating hands the name and the checked usernames to the core and opens the new group's chat.
 */
import { useEffect, useRef, useState, type FormEvent, type KeyboardEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconClose } from '../icons.js';
import { useApp } from '../use-app.js';

export function NewGroupDialog({
  onClose,
  onOpened,
}: {
  onClose: () => void;
  onOpened: (id: string) => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const dialog = useRef<HTMLDialogElement>(null);
  const [title, setTitle] = useState('');
  const [draft, setDraft] = useState('');
  const [members, setMembers] = useState<string[]>([]);
  const [checking, setChecking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  /** Checks the typed username on the server and adds it as a chip; true when the field is now empty. */
  const addDraft = async (): Promise<boolean> => {
    const name = draft.trim().replace(/^@/, '');
    if (!name) return true;
    if (members.some((m) => m.toLowerCase() === name.toLowerCase())) {
      setDraft('');
      return true;
    }
    setChecking(true);
    setError(null);
    const result = await app.group.checkMember(name);
    setChecking(false);
    if (!result.ok) {
      setError(t(`group.errors.${result.error}`, { name }));
      return false;
    }
    setMembers((current) => (current.includes(result.username) ? current : [...current, result.username]));
    setDraft('');
    return true;
  };

  const onMemberKey = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter' && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void addDraft();
    } else if (event.key === 'Backspace' && draft === '' && members.length > 0) {
      setMembers((current) => current.slice(0, -1));
    }
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!title.trim()) return setError(t('group.needName'));
    // A name still in the field counts: it is checked like one added with Enter.
    if (!(await addDraft())) return;
    const names = draft.trim() ? [...members, draft.trim().replace(/^@/, '')] : members;
    if (names.length === 0) return setError(t('group.needMember'));
    setBusy(true);
    setError(null);
    const result = await app.group.create(title, names);
    setBusy(false);
    if (result.ok) onOpened(result.conversationId);
    else setError(t(`group.errors.${result.error}`, { name: '' }));
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="new-group-title" onClose={onClose} onCancel={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <header className="dialog-header">
          <h2 id="new-group-title">{t('group.newTitle')}</h2>
          <button type="button" className="icon-button" onClick={onClose} aria-label={t('common.close')}>
            <IconClose />
          </button>
        </header>
        <label className="field">
          <span>{t('group.name')}</span>
          <input
            data-testid="group-name-input"
            autoFocus
            autoComplete="off"
            maxLength={100}
            value={title}
            onChange={(e) => setTitle(e.target.value)}
            placeholder={t('group.namePlaceholder')}
          />
        </label>
        <div className="field">
          <label htmlFor="group-member-input">{t('group.members')}</label>
          {members.length > 0 ? (
            <ul className="chips" aria-label={t('group.members')}>
              {members.map((name) => (
                <li key={name} className="chip" data-testid="group-member-chip" data-username={name}>
                  <span>{name}</span>
                  <button
                    type="button"
                    className="chip-remove"
                    aria-label={t('group.removeChip', { name })}
                    onClick={() => setMembers((current) => current.filter((m) => m !== name))}
                  >
                    <IconClose />
                  </button>
                </li>
              ))}
            </ul>
          ) : null}
          <div className="inline-field">
            <input
              id="group-member-input"
              data-testid="group-member-input"
              autoCapitalize="none"
              autoComplete="off"
              spellCheck={false}
              value={draft}
              onChange={(e) => setDraft(e.target.value)}
              onKeyDown={onMemberKey}
              placeholder={t('group.memberPlaceholder')}
            />
            <button
              type="button"
              className="secondary small"
              data-testid="group-member-add"
              disabled={checking || !draft.trim()}
              onClick={() => void addDraft()}
            >
              {checking ? t('group.checking') : t('group.addMember')}
            </button>
          </div>
        </div>
        {error ? (
          <p className="error" role="alert" data-testid="group-error">
            {error}
          </p>
        ) : null}
        <div className="dialog-actions">
          <button type="button" className="secondary" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button
            type="submit"
            className="primary"
            data-testid="group-create-button"
            disabled={busy || checking || !title.trim()}
          >
            {busy ? t('group.creating') : t('group.create')}
          </button>
        </div>
      </form>
    </dialog>
  );
}

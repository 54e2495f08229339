/**
 * Start a chat by username: a modal dialog that looks the user up on the server and opens the conversation.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconClose } from '../icons.js';
import { useApp } from '../use-app.js';

export function NewChatDialog({
  onClose,
  onOpened,
}: {
  onClose: () => void;
  onOpened: (id: string) => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const dialog = useRef<HTMLDialogElement>(null);
  const [username, setUsername] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim().replace(/^@/, '');
    if (!name) return;
    setBusy(true);
    setError(null);
    const result = await app.list.startChat(name);
    setBusy(false);
    if (result.ok) onOpened(result.conversationId);
    else setError(t(`newChat.errors.${result.error}`, { name }));
  };

  return (
    <dialog ref={dialog} className="dialog" aria-labelledby="new-chat-title" onClose={onClose} onCancel={onClose}>
      <form onSubmit={(e) => void submit(e)}>
        <header className="dialog-header">
          <h2 id="new-chat-title">{t('newChat.title')}</h2>
          <button type="button" className="icon-button" onClick={onClose} aria-label={t('common.close')}>
            <IconClose />
          </button>
        </header>
        <label className="field">
          <span>{t('newChat.username')}</span>
          <input
            data-testid="new-chat-username-input"
            autoFocus
            autoCapitalize="none"
            autoComplete="off"
            spellCheck={false}
            value={username}
            onChange={(e) => {
              setUsername(e.target.value);
              setError(null);
            }}
            placeholder={t('newChat.placeholder')}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'new-chat-error' : undefined}
          />
        </label>
        {error ? (
          <p className="error" role="alert" id="new-chat-error" data-testid="field-error">
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
            data-testid="new-chat-start-button"
            disabled={busy || !username.trim()}
          >
            {busy ? t('newChat.searching') : t('newChat.start')}
          </button>
        </div>
      </form>
    </dialog>
  );
}

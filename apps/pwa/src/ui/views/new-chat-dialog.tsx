/**
 * Start a chat by username: a modal dialog that looks the user up on the server and opens the conversation. While
 * the user types, the organization directory (when the server has it on) lists members whose username starts with
 * what was typed; picking one starts the chat. A server with the directory off is asked once per dialog.
 */
import { useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { DirectoryMatch } from '../../app/model.js';
import { IconClose } from '../icons.js';
import { useApp } from '../use-app.js';

/** Typing pauses this long before the directory is asked: one request per word, not per keystroke. */
const DIRECTORY_DEBOUNCE_MS = 250;
/** What the directory can search for: a username prefix (the server's rule; anything else is not sent). */
const DIRECTORY_QUERY = /^[A-Za-z0-9_.]{1,32}$/;

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
  const [matches, setMatches] = useState<DirectoryMatch[]>([]);
  const directoryOff = useRef(false);

  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);

  useEffect(() => {
    const query = username.trim().replace(/^@/, '');
    if (directoryOff.current || !DIRECTORY_QUERY.test(query)) {
      setMatches([]);
      return;
    }
    let current = true;
    const timer = setTimeout(() => {
      void app.list.searchDirectory(query).then((found) => {
        if (found === null) directoryOff.current = true;
        if (current) setMatches(found ?? []);
      });
    }, DIRECTORY_DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [app, username]);

  const open = async (name: string) => {
    setBusy(true);
    setError(null);
    const result = await app.list.startChat(name);
    setBusy(false);
    if (result.ok) onOpened(result.conversationId);
    else setError(t(`newChat.errors.${result.error}`, { name }));
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const name = username.trim().replace(/^@/, '');
    if (!name) return;
    await open(name);
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
        {matches.length > 0 ? (
          <section className="directory-results" aria-label={t('newChat.directory')}>
            <h3>{t('newChat.directory')}</h3>
            <ul>
              {matches.map((match) => (
                <li key={match.accountId}>
                  <button
                    type="button"
                    className="directory-result"
                    data-testid="directory-result"
                    disabled={busy}
                    onClick={() => void open(match.username)}
                  >
                    @{match.username}
                  </button>
                </li>
              ))}
            </ul>
          </section>
        ) : null}
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

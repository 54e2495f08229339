/**
 * The message composer: the text field (Enter sends, Shift+Enter breaks the line, nothing during IME
 * composition), the emoji palette and the send button, with the user's typing notices (started on input, stopped
 * after a pause, on clearing the field or on leaving the chat). Sending hands the trimmed text to `onSend`.
 */
import { useEffect, useRef, useState, type KeyboardEvent, type ReactElement, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { IconSend, IconSmile } from '../../icons.js';
import { useApp } from '../../use-app.js';

/** Stop announcing "typing" after this long without a keystroke (Signal uses a similar few seconds). */
const TYPING_IDLE_MS = 3_000;
/** A small palette; the system keyboard offers every other emoji. */
const EMOJI = [
  '😀',
  '😂',
  '😊',
  '😍',
  '🥰',
  '😘',
  '😎',
  '🤔',
  '😅',
  '😭',
  '😡',
  '👍',
  '👎',
  '👏',
  '🙏',
  '💪',
  '🎉',
  '❤️',
  '🔥',
  '✨',
  '☕',
  '🍕',
  '🌊',
  '🚀',
];

export function Composer({
  conversationId,
  onSend,
  banner,
  preset,
}: {
  conversationId: string;
  onSend: (text: string) => void;
  /** Shown above the field (the reply or edit preview). */
  banner?: ReactNode;
  /** Text to put in the field when it changes (editing a message); `key` changes with each request. */
  preset?: { key: string; text: string } | null;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [draft, setDraft] = useState('');
  const [emojiOpen, setEmojiOpen] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    setDraft('');
    input.current?.focus();
  }, [conversationId]);

  useEffect(() => {
    if (!preset) return;
    setDraft(preset.text);
    input.current?.focus();
    // Only a new preset request (its key) sets the field; typing afterwards is the user's.
  }, [preset?.key]);

  useEffect(
    () => () => {
      if (typingTimer.current) clearTimeout(typingTimer.current);
      app.chat.setTyping(conversationId, false);
    },
    [app, conversationId],
  );

  const noteTyping = (text: string) => {
    if (typingTimer.current) clearTimeout(typingTimer.current);
    if (!text) {
      app.chat.setTyping(conversationId, false);
      return;
    }
    app.chat.setTyping(conversationId, true);
    typingTimer.current = setTimeout(() => app.chat.setTyping(conversationId, false), TYPING_IDLE_MS);
  };

  const send = () => {
    const text = draft.trim();
    if (!text) return;
    setDraft('');
    setEmojiOpen(false);
    if (typingTimer.current) clearTimeout(typingTimer.current);
    // No "stopped typing" first: the message itself ends the indicator on the other side, one encryption sooner.
    onSend(text);
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  return (
    <footer className="composer">
      {banner}
      {emojiOpen ? (
        <div className="emoji-panel" role="group" aria-label={t('chat.emoji')}>
          {EMOJI.map((e) => (
            <button
              key={e}
              type="button"
              className="emoji"
              onClick={() => {
                setDraft((d) => d + e);
                input.current?.focus();
              }}
            >
              {e}
            </button>
          ))}
        </div>
      ) : null}
      <div className="composer-row">
        <button
          type="button"
          className="icon-button"
          aria-label={t('chat.emoji')}
          aria-expanded={emojiOpen}
          onClick={() => setEmojiOpen((o) => !o)}
        >
          <IconSmile />
        </button>
        <label className="visually-hidden" htmlFor="message-input">
          {t('chat.placeholder')}
        </label>
        <textarea
          id="message-input"
          ref={input}
          data-testid="message-input"
          rows={1}
          value={draft}
          placeholder={t('chat.placeholder')}
          onChange={(e) => {
            setDraft(e.target.value);
            noteTyping(e.target.value);
          }}
          onKeyDown={onKeyDown}
        />
        <button
          type="button"
          className="send-button"
          data-testid="send-button"
          aria-label={t('chat.send')}
          disabled={!draft.trim()}
          onClick={send}
        >
          <IconSend />
        </button>
      </div>
    </footer>
  );
}

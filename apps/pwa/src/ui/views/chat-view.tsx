/**
 * One conversation: messages with day separators and delivery marks, the typing indicator, failed-send retry, a
 * banner when the contact's safety number changed, and the composer (text and emoji). Viewing the chat marks
 * incoming messages read. Each message renders inside its own error boundary: one that cannot be shown becomes a
 * placeholder and the rest of the chat stays usable.
 */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../app/model.js';
import { Avatar } from '../avatar.js';
import { ErrorBoundary, MessageError } from '../error-boundary.js';
import { formatDay, formatTime, isoTime, isSameDay } from '../format.js';
import { IconAlert, IconBack, IconSend, IconShieldCheck, IconSmile, StatusMark } from '../icons.js';
import { useApp, useAppState, useLive } from '../use-app.js';

/** Messages loaded per page; more load when the user scrolls to the top. */
const PAGE = 60;
/** Re-read a moment after a disappearing message's expiry, so the reader's clock is surely past it. */
const EXPIRY_SLACK_MS = 50;
/** The longest delay setTimeout accepts (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;
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

export function ChatView({
  conversationId,
  onBack,
  onContact,
}: {
  conversationId: string;
  onBack: () => void;
  onContact: () => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const state = useAppState();
  const [limit, setLimit] = useState(PAGE);
  /** Bumped when a shown disappearing message's timer runs out, so the page is read again (without it). */
  const [expiries, setExpiries] = useState(0);
  const conversation = useLive(() => app.chat.conversation(conversationId), [conversationId, expiries]);
  const page = useLive(() => app.chat.messages(conversationId, { limit }), [conversationId, limit, expiries]);
  const [draft, setDraft] = useState('');
  const [emojiOpen, setEmojiOpen] = useState(false);
  const scroller = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const stickToBottom = useRef(true);
  const typing = state.typing.has(conversationId);
  const messages = page ? [...page].reverse() : [];
  const unread = conversation?.unread ?? 0;

  useEffect(() => {
    setDraft('');
    setLimit(PAGE);
    stickToBottom.current = true;
    input.current?.focus();
  }, [conversationId]);

  useEffect(() => {
    if (unread > 0 && state.online !== undefined) void app.chat.markRead(conversationId);
  }, [app, conversationId, unread, state.online, state.revision]);

  useEffect(() => {
    const next = Math.min(...(page ?? []).map((m) => m.expiresAt ?? Infinity));
    if (!Number.isFinite(next)) return;
    // setTimeout takes at most 2^31-1 ms; a later expiry is re-armed by the reload this triggers.
    const delay = Math.min(Math.max(next - Date.now(), 0) + EXPIRY_SLACK_MS, MAX_TIMER_MS);
    const timer = setTimeout(() => setExpiries((n) => n + 1), delay);
    return () => clearTimeout(timer);
  }, [page]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stickToBottom.current) el.scrollTop = el.scrollHeight;
  }, [page, typing]);

  useEffect(
    () => () => {
      if (typingTimer.current) clearTimeout(typingTimer.current);
      app.chat.setTyping(conversationId, false);
    },
    [app, conversationId],
  );

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80;
    if (el.scrollTop < 40 && page && page.length >= limit) setLimit((l) => l + PAGE);
  };

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
    stickToBottom.current = true;
    // No "stopped typing" first: the message itself ends the indicator on the other side, one encryption sooner.
    void app.chat.send(conversationId, text);
    input.current?.focus();
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      send();
    }
  };

  const title = conversation?.title ?? '';
  return (
    <section className="chat-pane" aria-labelledby="chat-title">
      <header className="toolbar chat-toolbar">
        <button type="button" className="icon-button back-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <button type="button" className="chat-peer" onClick={onContact} title={t('chat.openContact', { name: title })}>
          <Avatar name={title || '?'} size={38} />
          <span className="chat-peer-text">
            <span id="chat-title" className="chat-title">
              {title}
              {conversation?.verified ? (
                <span className="verified-badge" aria-hidden="true">
                  <IconShieldCheck />
                </span>
              ) : null}
            </span>
            <span className="chat-sub" aria-live="polite" data-testid="typing-indicator">
              {typing
                ? t('chat.typing')
                : conversation?.verified
                  ? `${t('contact.verified')} · ${t('chat.encrypted')}`
                  : t('chat.encrypted')}
            </span>
          </span>
        </button>
      </header>

      {conversation?.identityChanged ? (
        <div className="banner warn" role="alert" data-testid="safety-changed-banner">
          <IconAlert />
          <p>{t('chat.identityChanged', { name: title })}</p>
          <button type="button" className="secondary small" onClick={onContact}>
            {t('chat.verify')}
          </button>
        </div>
      ) : null}
      {!state.online ? (
        <div className="banner info" role="status">
          <p>{t('app.offline')}</p>
        </div>
      ) : null}

      <div
        className="messages"
        ref={scroller}
        onScroll={onScroll}
        role="log"
        aria-label={t('chat.history')}
        tabIndex={0}
      >
        {messages.length === 0 && page ? <p className="chat-empty muted">{t('chat.empty')}</p> : null}
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const newDay = !prev || !isSameDay(prev.sentAt, m.sentAt);
          return (
            <ErrorBoundary key={m.id} fallback={() => <MessageError />}>
              {newDay ? (
                <div className="day-separator" role="separator">
                  <span>{formatDay(m.sentAt, i18n.language, t)}</span>
                </div>
              ) : null}
              <MessageBubble message={m} onRetry={() => void app.chat.retry(conversationId, m.id)} />
            </ErrorBoundary>
          );
        })}
        {typing ? (
          <div className="bubble-row in" aria-hidden="true">
            <div className="bubble typing-bubble">
              <span />
              <span />
              <span />
            </div>
          </div>
        ) : null}
      </div>

      <footer className="composer">
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
    </section>
  );
}

function MessageBubble({ message, onRetry }: { message: ChatMessage; onRetry: () => void }): ReactElement {
  const { t, i18n } = useTranslation();
  const status = message.status;
  return (
    <div className={`bubble-row ${message.outgoing ? 'out' : 'in'}`}>
      <div
        className={`bubble${message.undecryptable || message.unshowable ? ' undecryptable' : ''}${status === 'failed' ? ' failed' : ''}`}
        data-testid="message"
        data-status={message.outgoing ? status : undefined}
        data-direction={message.outgoing ? 'out' : 'in'}
      >
        <p className="bubble-text">
          {message.undecryptable ? t('chat.undecryptable') : message.unshowable ? t('chat.unshowable') : message.text}
        </p>
        <span className="bubble-meta">
          <time dateTime={isoTime(message.sentAt)} title={message.sentAt === null ? t('time.unknown') : undefined}>
            {formatTime(message.sentAt, i18n.language)}
          </time>
          {message.outgoing && status ? (
            <span className={`mark mark-${status}`} role="img" aria-label={t(`status.${status}`)}>
              <StatusMark status={status} />
            </span>
          ) : null}
        </span>
      </div>
      {status === 'failed' && message.failure ? (
        <p className="failure-reason" data-testid="failure-reason">
          {t(`chat.failure.${message.failure}`)}
        </p>
      ) : null}
      {status === 'failed' ? (
        <button type="button" className="retry" onClick={onRetry} data-testid="retry-button">
          {t('chat.retry')}
        </button>
      ) : null}
    </div>
  );
}

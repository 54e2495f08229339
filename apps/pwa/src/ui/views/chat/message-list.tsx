/**
 * The scrolling history: messages oldest first with day separators, each inside its own error boundary (one that
 * cannot be shown becomes a placeholder), the typing bubble, staying scrolled to the bottom unless the user scrolled
 * up, and asking for an older page near the top. It loads nothing itself.
 */
import { useLayoutEffect, useRef, type ReactElement, type RefObject } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../../app/model.js';
import { ErrorBoundary, MessageError } from '../../error-boundary.js';
import { formatDay, isSameDay } from '../../format.js';
import { systemText } from '../../group-text.js';
import { MessageBubble } from './message-bubble.js';
import { MessageWithActions, type MessageAction } from './message-actions.js';

/** Within this many pixels of the bottom, new messages keep the view scrolled down. */
const STICK_PX = 80;
/** How long a quoted original stays highlighted after a tap on its quote scrolled to it. */
const FLASH_MS = 1200;
/** Within this many pixels of the top, the next older page is asked for. */
const LOAD_MORE_PX = 40;

export function MessageList({
  messages,
  loaded,
  hasMore,
  typing,
  stickToBottom,
  onLoadMore,
  onRetry,
  actions,
  inGroup = false,
}: {
  /** A group chat: system lines, sender names, and only the actions the core supports in groups. */
  inGroup?: boolean;
  /** Oldest first. */
  messages: readonly ChatMessage[];
  /** False until the first page has been read (no "empty" note meanwhile). */
  loaded: boolean;
  /** The page was full, so older messages may exist. */
  hasMore: boolean;
  typing: boolean;
  /** Shared with the composer: sending scrolls to the bottom again. */
  stickToBottom: RefObject<boolean>;
  onLoadMore: () => void;
  onRetry: (messageId: string) => void;
  /** Message actions (menu, reactions, quotes); without them messages render plain. */
  actions?: {
    canModify: (message: ChatMessage) => boolean;
    onAction: (message: ChatMessage, action: MessageAction) => void;
  };
}): ReactElement {
  const { t, i18n } = useTranslation();
  const scroller = useRef<HTMLDivElement>(null);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el && stickToBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages, typing, stickToBottom]);

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
    if (el.scrollTop < LOAD_MORE_PX && hasMore) onLoadMore();
  };

  return (
    <div className="messages" ref={scroller} onScroll={onScroll} role="log" aria-label={t('chat.history')} tabIndex={0}>
      {messages.length === 0 && loaded ? <p className="chat-empty muted">{t('chat.empty')}</p> : null}
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
            {m.system ? (
              <p className="system-line" data-testid="system-line" data-kind={m.system.kind}>
                {systemText(m.system, t, i18n.language)}
              </p>
            ) : actions ? (
              <MessageWithActions
                inGroup={inGroup}
                message={m}
                canModify={actions.canModify(m)}
                onAction={actions.onAction}
                onRetry={() => onRetry(m.id)}
                onOpenQuote={(anchorId) => {
                  const target = scroller.current?.querySelector<HTMLElement>(`#${CSS.escape(anchorId)}`);
                  if (!target) return;
                  target.scrollIntoView({ block: 'center' });
                  target.classList.add('flash');
                  setTimeout(() => target.classList.remove('flash'), FLASH_MS);
                }}
              />
            ) : (
              <MessageBubble message={m} onRetry={() => onRetry(m.id)} />
            )}
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
  );
}

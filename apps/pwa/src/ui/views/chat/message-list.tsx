/**
 * The scrolling history: messages oldest first with day separators ("Today", "Yesterday", a date), consecutive
 * messages of one sender within a few minutes grouped (one tail, one time), each inside its own error boundary (one
 * that cannot be shown becomes a placeholder), the typing bubble, and system lines (group changes, timers). It stays
 * scrolled to the bottom unless the user scrolled up; then new messages do not move what the user is reading, and
 * a "jump to latest" button counts the messages that arrived below. An older page loaded at the top keeps the view
 * where it was. It asks for older pages near the top and loads nothing itself.
 */
import { memo, useLayoutEffect, useMemo, useRef, useState, type ReactElement, type RefObject } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../../app/model.js';
import { ErrorBoundary, MessageError } from '../../error-boundary.js';
import { formatCount, formatDay, isSameDay } from '../../format.js';
import { IconBack } from '../../icons.js';
import { MessageBubble, type GroupPosition } from './message-bubble.js';
import { MessageWithActions, type MessageAction } from './message-actions.js';
import { SystemLine } from './system-line.js';

/** Within this many pixels of the bottom, new messages keep the view scrolled down. */
const STICK_PX = 80;
/** How long a quoted original stays highlighted after a tap on its quote scrolled to it. */
const FLASH_MS = 1200;
/** Within this many pixels of the top, the next older page is asked for. */
const LOAD_MORE_PX = 40;
/** Messages of one sender this close in time form one group (Signal and WhatsApp group within a few minutes). */
export const GROUP_GAP_MS = 3 * 60_000;

/** Whether `b` continues the group of `a` (same sender, same day, within GROUP_GAP_MS, neither a system line). */
export function continuesGroup(a: ChatMessage | undefined, b: ChatMessage | undefined): boolean {
  if (!a || !b || a.system || b.system) return false;
  if (a.outgoing !== b.outgoing || (a.author ?? null) !== (b.author ?? null)) return false;
  if (a.sentAt === null || b.sentAt === null || !isSameDay(a.sentAt, b.sentAt)) return false;
  return Math.abs(b.sentAt - a.sentAt) <= GROUP_GAP_MS;
}

function positionOf(prev: ChatMessage | undefined, m: ChatMessage, next: ChatMessage | undefined): GroupPosition {
  const joinsPrev = continuesGroup(prev, m);
  const joinsNext = continuesGroup(m, next);
  if (joinsPrev && joinsNext) return 'middle';
  if (joinsPrev) return 'last';
  if (joinsNext) return 'first';
  return 'single';
}

type RowCallbacks = {
  onRetry: (messageId: string) => void;
  onAction: (message: ChatMessage, action: MessageAction) => void;
  onOpenQuote: (anchorId: string) => void;
};

/**
 * One message (or system line) with its day separator, in its own error boundary. Memoized: the list passes the same
 * message object while its data is unchanged (use-app.ts `useLive`), so only new or changed rows render again.
 */
const MessageRow = memo(function MessageRow({
  message: m,
  day,
  position,
  withActions,
  canModify,
  readOnly,
  peerName,
  callbacks,
}: {
  message: ChatMessage;
  /** The day separator's text when this message starts a day. */
  day: string | null;
  position: GroupPosition;
  withActions: boolean;
  canModify: boolean;
  readOnly: boolean;
  peerName: string | undefined;
  callbacks: RowCallbacks;
}): ReactElement {
  return (
    <ErrorBoundary fallback={() => <MessageError />}>
      {day !== null ? (
        <div className="day-separator" role="separator" data-testid="day-separator">
          <span>{day}</span>
        </div>
      ) : null}
      {m.system ? (
        <SystemLine message={m} peerName={peerName} />
      ) : withActions ? (
        <MessageWithActions
          readOnly={readOnly}
          message={m}
          position={position}
          canModify={canModify}
          onAction={callbacks.onAction}
          onRetry={() => callbacks.onRetry(m.id)}
          onOpenQuote={callbacks.onOpenQuote}
        />
      ) : (
        <MessageBubble message={m} position={position} onRetry={() => callbacks.onRetry(m.id)} />
      )}
    </ErrorBoundary>
  );
});

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
  readOnly = false,
  peerName = '',
}: {
  /** A group chat: group system lines and sender names (its messages have every action a direct chat's have). */
  inGroup?: boolean;
  /** A read-only conversation (the organization's notices): messages offer no reactions, reply, edit or info. */
  readOnly?: boolean;
  /** Direct conversations: the other person's name, for system lines ("Bob set disappearing messages to 1 hour"). */
  peerName?: string;
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
  /** What was on screen at the last render: the oldest and newest ids and the content height. */
  const shown = useRef<{ first: string | undefined; last: string | undefined; height: number }>({
    first: undefined,
    last: undefined,
    height: 0,
  });
  /** Scrolled up away from the newest messages (the jump button shows). */
  const [away, setAway] = useState(false);
  /** Messages that arrived below while the user was scrolled up. */
  const [unseen, setUnseen] = useState(0);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const before = shown.current;
    const first = messages[0]?.id;
    const last = messages.at(-1)?.id;
    if (stickToBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else {
      // An older page above: keep the same messages in view by moving down as far as the content grew.
      if (before.first !== undefined && first !== before.first && last === before.last)
        el.scrollTop += el.scrollHeight - before.height;
      // New messages below while reading older ones: count them, do not scroll.
      if (before.last !== undefined && last !== before.last) {
        const from = messages.findIndex((m) => m.id === before.last);
        const added = from === -1 ? 0 : messages.slice(from + 1).filter((m) => !m.outgoing && !m.system).length;
        if (added > 0) setUnseen((n) => n + added);
      }
    }
    shown.current = { first, last, height: el.scrollHeight };
  }, [messages, typing, stickToBottom]);

  // The rows' callbacks stay the same functions across renders (they call the latest props), so a row whose message
  // did not change is not rendered again when a new message arrives.
  const latest = useRef({ onRetry, onAction: actions?.onAction });
  latest.current = { onRetry, onAction: actions?.onAction };
  const callbacks = useMemo<RowCallbacks>(
    () => ({
      onRetry: (messageId) => latest.current.onRetry(messageId),
      onAction: (message, action) => latest.current.onAction?.(message, action),
      onOpenQuote: (anchorId) => {
        const target = scroller.current?.querySelector<HTMLElement>(`#${CSS.escape(anchorId)}`);
        if (!target) return;
        target.scrollIntoView({ block: 'center' });
        target.classList.add('flash');
        setTimeout(() => target.classList.remove('flash'), FLASH_MS);
      },
    }),
    [],
  );

  const onScroll = () => {
    const el = scroller.current;
    if (!el) return;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < STICK_PX;
    stickToBottom.current = atBottom;
    setAway(!atBottom);
    if (atBottom) setUnseen(0);
    if (el.scrollTop < LOAD_MORE_PX && hasMore) onLoadMore();
  };

  const jumpToLatest = () => {
    const el = scroller.current;
    if (!el) return;
    stickToBottom.current = true;
    el.scrollTop = el.scrollHeight;
    setAway(false);
    setUnseen(0);
  };

  return (
    <div className="chat-body">
      <div
        className="messages"
        ref={scroller}
        onScroll={onScroll}
        role="log"
        aria-label={t('chat.history')}
        data-testid="message-log"
        data-loaded={loaded ? 'true' : 'false'}
        tabIndex={0}
      >
        {messages.length === 0 && loaded ? <p className="chat-empty muted">{t('chat.empty')}</p> : null}
        {messages.map((m, i) => {
          const prev = messages[i - 1];
          const newDay = !prev || !isSameDay(prev.sentAt, m.sentAt);
          return (
            <MessageRow
              key={m.id}
              message={m}
              day={newDay ? formatDay(m.sentAt, i18n.language, t) : null}
              position={positionOf(newDay ? undefined : prev, m, messages[i + 1])}
              withActions={actions !== undefined}
              canModify={actions?.canModify(m) ?? false}
              readOnly={readOnly}
              peerName={inGroup || !peerName ? undefined : peerName}
              callbacks={callbacks}
            />
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
      {away ? (
        <button
          type="button"
          className="jump-to-latest"
          data-testid="jump-to-latest"
          onClick={jumpToLatest}
          aria-label={unseen > 0 ? t('chat.jumpToLatestNew', { count: unseen }) : t('chat.jumpToLatest')}
        >
          {unseen > 0 ? (
            <span className="jump-count" data-testid="jump-count" aria-hidden="true">
              {formatCount(unseen, i18n.language)}
            </span>
          ) : null}
          <span className="jump-arrow" aria-hidden="true">
            <IconBack />
          </span>
        </button>
      ) : null}
    </div>
  );
}

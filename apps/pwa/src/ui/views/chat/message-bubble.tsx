/**
 * One message: its text (or the placeholder of an undecryptable, unshowable or deleted one), a reply's quoted block,
 * time, "edited" mark, delivery mark, reactions below, and for a failed send the reason the user can act on and the
 * retry button; photos, files and voice notes above the caption (`data-kind` says which). Consecutive messages of
 * one sender form a group (`position`): one tail and one visible time, on the group's last bubble (the others keep
 * their time for screen readers, and show their mark only when it differs: sending or failed). A disappearing
 * message carries a timer mark. In a group chat, another member's run of messages starts with their name in their
 * colour (`message-sender`; the run's later bubbles keep it for screen readers only). Display only.
 */
import { useEffect, useState, type ReactElement, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../../app/model.js';
import { formatTime, formatTimer, isoTime } from '../../format.js';
import { isLargeEmoji } from '../../emoji-only.js';
import { IconTimer, StatusMark } from '../../icons.js';
import { memberColourClass } from '../../member-colour.js';
import { quoteAnchorId } from './quote-preview.js';
import { MessageAttachments } from './attachment-views.js';
import { MessageText } from './message-text.js';

/** A message's place in its group of consecutive messages from one sender (message-list.tsx decides). */
export type GroupPosition = 'single' | 'first' | 'middle' | 'last';

export function MessageBubble({
  message,
  onRetry,
  quote,
  footer,
  position = 'single',
}: {
  message: ChatMessage;
  position?: GroupPosition;
  onRetry: () => void;
  /** The quoted block of a reply, shown above the text. */
  quote?: ReactNode;
  /** Shown under the bubble (reaction chips). */
  footer?: ReactNode;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const status = message.status;
  const shown = !message.undecryptable && !message.unshowable;
  const largeEmoji = shown && !message.attachments?.length && isLargeEmoji(message.text);
  /** The group's last bubble carries the time and the tail; inner ones only what differs from it. */
  const ends = position === 'single' || position === 'last';
  const markShown = message.outgoing && status && (ends || status === 'sending' || status === 'failed');
  return (
    <div
      className={`bubble-row ${message.outgoing ? 'out' : 'in'} group-${position}`}
      data-group={position}
      id={quoteAnchorId(message.outgoing, message.sentAt)}
    >
      <div
        className={`bubble${message.undecryptable || message.unshowable ? ' undecryptable' : ''}${status === 'failed' ? ' failed' : ''}`}
        data-testid="message"
        data-message-id={message.id}
        data-status={message.outgoing ? status : undefined}
        data-direction={message.outgoing ? 'out' : 'in'}
        data-kind={message.kind}
      >
        {message.sender ? (
          <span
            className={
              position === 'single' || position === 'first'
                ? `bubble-sender ${memberColourClass(message.sender.accountId)}`
                : 'visually-hidden'
            }
            data-testid="message-sender"
          >
            {message.sender.name}
          </span>
        ) : null}
        {message.deleted ? null : quote}
        {message.deleted ? null : <MessageAttachments message={message} />}
        {message.deleted ? (
          <p className="bubble-text deleted" data-testid="deleted-placeholder">
            {t('actions.deleted')}
          </p>
        ) : message.attachments?.length && !message.text ? null : (
          <p
            className={`bubble-text${largeEmoji ? ' emoji-only' : ''}`}
            data-emoji-only={largeEmoji ? 'true' : undefined}
          >
            {message.undecryptable ? (
              t('chat.undecryptable')
            ) : message.unshowable ? (
              t('chat.unshowable')
            ) : largeEmoji ? (
              message.text
            ) : (
              <MessageText text={message.text} />
            )}
          </p>
        )}
        <span className={`bubble-meta${ends ? '' : ' inner'}`}>
          {message.expiresAt !== undefined ? <ExpiryMark expiresAt={message.expiresAt} /> : null}
          {message.edits && !message.deleted ? (
            <span className="edited-mark" data-testid="edited-mark">
              {t('actions.edited')}
            </span>
          ) : null}
          <time
            dateTime={isoTime(message.sentAt)}
            title={message.sentAt === null ? t('time.unknown') : undefined}
            className={ends ? undefined : 'visually-hidden'}
          >
            {formatTime(message.sentAt, i18n.language)}
          </time>
          {markShown ? (
            <span className={`mark mark-${status}`} role="img" aria-label={t(`status.${status}`)}>
              <StatusMark status={status} />
            </span>
          ) : null}
        </span>
      </div>
      {footer}
      {status === 'failed' && message.failure ? (
        <p className="failure-reason" data-testid="failure-reason">
          {t(`chat.failure.${message.failure}`)}
        </p>
      ) : null}
      {status === 'failed' && !message.deleted ? (
        <button type="button" className="retry" onClick={onRetry} data-testid="retry-button">
          {t('chat.retry')}
        </button>
      ) : null}
    </div>
  );
}

/**
 * How often a disappearing message's "expires in" label is brought up to date: every second in its last minute,
 * every half minute in its last hour, else every ten minutes (the label shows minutes, hours or days then).
 */
const expiryRefreshMs = (remainingMs: number): number =>
  remainingMs < 60_000 ? 1_000 : remainingMs < 3_600_000 ? 30_000 : 600_000;

/** The timer mark of a disappearing message; it keeps its own clock, so a memoized bubble's label stays current. */
function ExpiryMark({ expiresAt }: { expiresAt: number }): ReactElement {
  const { t, i18n } = useTranslation();
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const remaining = expiresAt - now;
    if (remaining <= 0) return undefined;
    const timer = setTimeout(() => setNow(Date.now()), expiryRefreshMs(remaining));
    return () => clearTimeout(timer);
  }, [expiresAt, now]);
  return (
    <span
      className="expiry-mark"
      data-testid="expiry-mark"
      role="img"
      aria-label={t('disappearing.expiresIn', {
        time: formatTimer(Math.max(0, expiresAt - now) / 1000, i18n.language, 'short'),
      })}
    >
      <IconTimer />
    </span>
  );
}

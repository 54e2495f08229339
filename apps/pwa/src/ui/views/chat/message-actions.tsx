/**
 * The message-actions menu of one message (`data-testid="message-actions"`): opened by the "…" button that appears
 * on hover and on keyboard focus, by the context-menu key or right click, and by a long press on phones. It offers
 * the quick reactions, reply, copy, forward, edit and delete (edit and delete for everyone only for the user's own
 * messages within 24 hours) and info; arrow keys move between items, Escape closes and gives focus back. The
 * message itself renders in MessageBubble, with the quoted block and reaction chips given here. It performs no
 * action itself: `onAction` goes to the chat view. A group's messages have the same actions (the core sends them with
 * the sender key); their info lists every member's delivery and read times.
 */
import { useEffect, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../../app/model.js';
import { MessageBubble, type GroupPosition } from './message-bubble.js';
import { QuotedBlock } from './quote-preview.js';
import { QuickReactionBar, ReactionChips } from './reaction-bar.js';

export type MessageAction =
  | { kind: 'reply' }
  | { kind: 'react'; emoji: string; remove: boolean }
  | { kind: 'copy' }
  | { kind: 'forward' }
  | { kind: 'edit' }
  | { kind: 'delete' }
  | { kind: 'info' };

/** How long a touch must rest on a bubble to open its menu (the platforms' long-press time is about this). */
const LONG_PRESS_MS = 500;
/** A touch that moves more than this many pixels is a scroll, not a long press. */
const LONG_PRESS_SLOP_PX = 10;

export function MessageWithActions({
  message,
  canModify,
  onAction,
  onRetry,
  onOpenQuote,
  position = 'single',
  readOnly = false,
}: {
  message: ChatMessage;
  /** Where the message sits in its group of consecutive messages (message-bubble.tsx). */
  position?: GroupPosition;
  /** A read-only conversation (the organization's notices): no reactions, reply, edit or info. */
  readOnly?: boolean;
  canModify: boolean;
  onAction: (message: ChatMessage, action: MessageAction) => void;
  onRetry: () => void;
  onOpenQuote: (anchorId: string) => void;
}): ReactElement {
  const { t } = useTranslation();
  const [open, setOpen] = useState(false);
  const trigger = useRef<HTMLButtonElement>(null);
  const press = useRef<{ timer: ReturnType<typeof setTimeout>; x: number; y: number } | null>(null);
  const actionable = !message.undecryptable && !message.unshowable;

  const cancelPress = () => {
    if (press.current) clearTimeout(press.current.timer);
    press.current = null;
  };
  useEffect(() => cancelPress, []);

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) trigger.current?.focus();
  };
  const act = (action: MessageAction) => {
    close(false);
    onAction(message, action);
  };
  const mine = message.reactions?.find((r) => r.mine)?.emoji ?? null;

  return (
    <div
      className={`message-with-actions ${message.outgoing ? 'out' : 'in'}${open ? ' menu-open' : ''}`}
      onContextMenu={(event) => {
        if (!actionable) return;
        event.preventDefault();
        setOpen(true);
      }}
      onPointerDown={(event) => {
        if (!actionable || event.pointerType !== 'touch') return;
        cancelPress();
        press.current = {
          x: event.clientX,
          y: event.clientY,
          timer: setTimeout(() => {
            press.current = null;
            setOpen(true);
          }, LONG_PRESS_MS),
        };
      }}
      onPointerMove={(event) => {
        const p = press.current;
        if (p && Math.hypot(event.clientX - p.x, event.clientY - p.y) > LONG_PRESS_SLOP_PX) cancelPress();
      }}
      onPointerUp={cancelPress}
      onPointerCancel={cancelPress}
    >
      <MessageBubble
        message={message}
        position={position}
        onRetry={onRetry}
        quote={message.quote ? <QuotedBlock quote={message.quote} onOpen={onOpenQuote} /> : null}
        footer={
          message.reactions && message.reactions.length > 0 && !readOnly ? (
            <ReactionChips
              reactions={message.reactions}
              onToggle={(emoji, remove) => onAction(message, { kind: 'react', emoji, remove })}
            />
          ) : null
        }
      />
      {actionable ? (
        <button
          ref={trigger}
          type="button"
          className="actions-trigger icon-button"
          data-testid="message-actions-button"
          aria-label={t('actions.open')}
          aria-haspopup="menu"
          aria-expanded={open}
          onClick={() => setOpen((o) => !o)}
        >
          <span aria-hidden="true">⋯</span>
        </button>
      ) : null}
      {open ? (
        <ActionsMenu
          message={message}
          canModify={canModify && !readOnly}
          readOnly={readOnly}
          mine={mine}
          onAction={act}
          onClose={() => close(true)}
        />
      ) : null}
    </div>
  );
}

function ActionsMenu({
  message,
  canModify,
  readOnly,
  mine,
  onAction,
  onClose,
}: {
  message: ChatMessage;
  canModify: boolean;
  readOnly: boolean;
  mine: string | null;
  onAction: (action: MessageAction) => void;
  onClose: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const menu = useRef<HTMLDivElement>(null);

  const items = (): HTMLElement[] => [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];

  useEffect(() => {
    items()[0]?.focus();
    const onOutside = (event: PointerEvent) => {
      if (menu.current && event.target instanceof Node && !menu.current.contains(event.target)) onClose();
    };
    // Registered after this tap has finished, so the tap that opened the menu does not close it.
    const timer = setTimeout(() => globalThis.addEventListener('pointerdown', onOutside), 0);
    return () => {
      clearTimeout(timer);
      globalThis.removeEventListener('pointerdown', onOutside);
    };
    // Once per mount: the menu is mounted when it opens.
  }, []);

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const all = items();
    const index = all.indexOf(document.activeElement as HTMLElement);
    const move = (to: number) => {
      event.preventDefault();
      all[(to + all.length) % all.length]?.focus();
    };
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      onClose();
    } else if (event.key === 'ArrowDown' || event.key === 'ArrowRight') move(index + 1);
    else if (event.key === 'ArrowUp' || event.key === 'ArrowLeft') move(index - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(all.length - 1);
    else if (event.key === 'Tab') onClose();
  };

  const item = (kind: MessageAction['kind'], label: string, danger = false) => (
    <button
      type="button"
      role="menuitem"
      className={`menu-item${danger ? ' danger' : ''}`}
      data-testid={`action-${kind}`}
      onClick={() => onAction({ kind } as MessageAction)}
    >
      {label}
    </button>
  );

  const deleted = message.deleted === true;
  return (
    <div
      ref={menu}
      className={`message-actions ${message.outgoing ? 'out' : 'in'}`}
      role="menu"
      aria-label={t('actions.menu')}
      data-testid="message-actions"
      onKeyDown={onKeyDown}
    >
      {deleted || readOnly ? null : (
        <QuickReactionBar mine={mine} onPick={(emoji, remove) => onAction({ kind: 'react', emoji, remove })} />
      )}
      {deleted || readOnly ? null : item('reply', t('actions.reply'))}
      {deleted ? null : item('copy', t('actions.copy'))}
      {deleted || message.hasAttachments ? null : item('forward', t('actions.forward'))}
      {canModify && !message.hasAttachments ? item('edit', t('actions.edit')) : null}
      {readOnly ? null : item('info', t('actions.info'))}
      {item('delete', t('actions.delete'), true)}
    </div>
  );
}

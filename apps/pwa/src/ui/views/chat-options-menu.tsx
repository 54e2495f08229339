/**
 * A conversation's options (`data-testid="chat-options"`): mute for 1 hour, 8 hours, a week or always (or unmute),
 * pin or unpin, archive or unarchive. Opened from the chat list (the "⋯" button shown on hover and keyboard focus,
 * right click, the context-menu key or Shift+F10 on a row, a long press on phones) and from the chat header. Arrow
 * keys move between items, Escape closes and gives focus back. The changes go through the list screen; the menu
 * reports a refused pin (the limit) through `onNotice` and keeps no state of its own.
 */
import { useEffect, useRef, type KeyboardEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ConversationSummary, MuteDuration } from '../../app/model.js';
import { useApp } from '../use-app.js';

/** Signal's limit, repeated here for the message only (the core enforces it). */
const MAX_PINNED = 4;
const MUTE_CHOICES: MuteDuration[] = ['1h', '8h', '1w', 'always'];

export function ChatOptionsMenu({
  conversation,
  placement,
  onClose,
  onNotice,
}: {
  conversation: ConversationSummary;
  /** Where it opens: below a list row, or below the chat header's button. */
  placement: 'row' | 'header';
  onClose: (refocus: boolean) => void;
  onNotice: (text: string) => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const menu = useRef<HTMLDivElement>(null);
  const items = (): HTMLElement[] => [...(menu.current?.querySelectorAll<HTMLElement>('[role="menuitem"]') ?? [])];

  useEffect(() => {
    items()[0]?.focus();
    const onOutside = (event: PointerEvent) => {
      if (menu.current && event.target instanceof Node && !menu.current.contains(event.target)) onClose(false);
    };
    // Registered after the tap that opened the menu has finished, so that tap does not close it.
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
      onClose(true);
    } else if (event.key === 'ArrowDown') move(index + 1);
    else if (event.key === 'ArrowUp') move(index - 1);
    else if (event.key === 'Home') move(0);
    else if (event.key === 'End') move(all.length - 1);
    else if (event.key === 'Tab') onClose(false);
  };

  const run = (action: () => Promise<unknown>) => {
    onClose(true);
    void action().catch(() => onNotice(t('chatOptions.failed')));
  };
  const item = (testId: string, label: string, action: () => Promise<unknown>) => (
    <button
      key={testId}
      type="button"
      role="menuitem"
      className="menu-item"
      data-testid={testId}
      onClick={() => run(action)}
    >
      {label}
    </button>
  );

  const id = conversation.id;
  return (
    <div
      ref={menu}
      className={`chat-options ${placement}`}
      role="menu"
      aria-label={t('chatOptions.menu', { name: conversation.title })}
      data-testid="chat-options"
      onKeyDown={onKeyDown}
    >
      {conversation.mutedUntil !== undefined
        ? item('chat-option-unmute', t('chatOptions.unmute'), () => app.list.mute(id, null))
        : MUTE_CHOICES.map((d) =>
            item(`chat-option-mute-${d}`, t(`chatOptions.mute.${d}`), () => app.list.mute(id, d)),
          )}
      {conversation.pinned
        ? item('chat-option-unpin', t('chatOptions.unpin'), () => app.list.pin(id, false))
        : item('chat-option-pin', t('chatOptions.pin'), async () => {
            if ((await app.list.pin(id, true)) === 'limit') onNotice(t('chatOptions.pinLimit', { count: MAX_PINNED }));
          })}
      {conversation.archived
        ? item('chat-option-unarchive', t('chatOptions.unarchive'), () => app.list.archive(id, false))
        : item('chat-option-archive', t('chatOptions.archive'), () => app.list.archive(id, true))}
    </div>
  );
}

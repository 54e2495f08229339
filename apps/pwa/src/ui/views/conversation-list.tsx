/**
 * The conversation list: pinned chats on top (in the order pinned), then newest activity first, each entry with
 * avatar, name, last message (or a typing note), time, unread count and the muted and pinned marks; archived chats
 * behind an "Archived" entry at the end, which opens them as a list of their own. Selecting an entry opens the chat;
 * its options (mute, pin, archive) open from a "⋯" button, right click, the context-menu key or a long press. Each
 * entry renders inside its own error boundary, so one that cannot be shown leaves the others usable.
 */
import type { TFunction } from 'i18next';
import { useEffect, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { Avatar } from '../avatar.js';
import type { ConversationSummary } from '../../app/model.js';
import { ConversationError, ErrorBoundary } from '../error-boundary.js';
import { formatCount, formatListTime } from '../format.js';
import { systemText } from '../group-text.js';
import {
  IconAlert,
  IconArchive,
  IconBack,
  IconGroup,
  IconMuted,
  IconPin,
  IconPlus,
  IconSettings,
  StatusMark,
} from '../icons.js';
import { ChatOptionsMenu } from './chat-options-menu.js';
import { InstallBanner } from './platform-limits/install-banner.js';
import { useApp, useAppState, useLive } from '../use-app.js';
import { ConnectionState } from './connection-state.js';

export function ConversationList({
  selected,
  onOpen,
  onNewChat,
  onNewGroup,
  onSettings,
}: {
  selected: string | null;
  onOpen: (id: string) => void;
  onNewChat: () => void;
  onNewGroup: () => void;
  onSettings: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const state = useAppState();
  const conversations = useLive(() => app.list.conversations(), []);
  const username = state.phase.kind === 'ready' ? state.phase.username : '';
  const [showArchived, setShowArchived] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const archived = conversations?.filter((c) => c.archived) ?? [];
  const shown = conversations?.filter((c) => Boolean(c.archived) === showArchived);
  // The Archived view closes by itself once its last conversation left it.
  useEffect(() => {
    if (showArchived && conversations !== undefined && archived.length === 0) setShowArchived(false);
  }, [showArchived, conversations, archived.length]);
  useEffect(() => {
    if (!notice) return;
    const timer = setTimeout(() => setNotice(null), NOTICE_MS);
    return () => clearTimeout(timer);
  }, [notice]);

  return (
    <section className="list-pane" aria-labelledby="list-title">
      <header className="toolbar">
        {showArchived ? (
          <>
            <button
              type="button"
              className="icon-button"
              onClick={() => setShowArchived(false)}
              aria-label={t('list.backToChats')}
              data-testid="archived-back"
            >
              <IconBack />
            </button>
            <div className="toolbar-title">
              <h1 id="list-title">{t('list.archived')}</h1>
            </div>
          </>
        ) : (
          <>
            <div className="toolbar-title">
              <h1 id="list-title">{t('list.title')}</h1>
              <span className="toolbar-sub">@{username}</span>
            </div>
            <button
              type="button"
              className="icon-button"
              onClick={onSettings}
              aria-label={t('list.settings')}
              data-testid="settings-button"
            >
              <IconSettings />
            </button>
            <button
              type="button"
              className="icon-button"
              onClick={onNewGroup}
              aria-label={t('list.newGroup')}
              data-testid="new-group-button"
            >
              <IconGroup />
            </button>
            <button
              type="button"
              className="icon-button"
              onClick={onNewChat}
              aria-label={t('list.newChat')}
              data-testid="new-chat-button"
            >
              <IconPlus />
            </button>
          </>
        )}
      </header>
      <ConnectionState />
      <InstallBanner />
      {notice ? (
        <p className="list-notice" role="status" data-testid="list-notice">
          {notice}
        </p>
      ) : null}
      {shown === undefined ? (
        <div className="list-empty" aria-busy="true" />
      ) : shown.length === 0 && archived.length === 0 ? (
        <div className="list-empty">
          <p className="muted">{t('list.empty')}</p>
          <button type="button" className="primary" onClick={onNewChat}>
            {t('list.startFirst')}
          </button>
        </div>
      ) : (
        <ul className="conversations" aria-label={showArchived ? t('list.archived') : t('list.title')}>
          {shown.map((c) => (
            <ErrorBoundary key={c.id} fallback={() => <ConversationError />}>
              <ConversationRow
                conversation={c}
                selected={selected === c.id}
                typing={state.typing.has(c.id)}
                onOpen={() => onOpen(c.id)}
                onNotice={setNotice}
              />
            </ErrorBoundary>
          ))}
          {!showArchived && archived.length > 0 ? (
            <li>
              <button
                type="button"
                className="conversation archived-folder"
                data-testid="archived-folder"
                onClick={() => setShowArchived(true)}
              >
                <span className="archived-icon">
                  <IconArchive />
                </span>
                <span className="conversation-title">{t('list.archivedCount', { count: archived.length })}</span>
              </button>
            </li>
          ) : null}
        </ul>
      )}
    </section>
  );
}

/** How long a notice (a refused pin) stays. */
const NOTICE_MS = 5000;
/** How long a touch must rest on a row to open its options (the platforms' long-press time is about this). */
const LONG_PRESS_MS = 500;
/** A touch that moves more than this many pixels is a scroll, not a long press. */
const LONG_PRESS_SLOP_PX = 10;

/**
 * The last message as the list previews it: its text, or for a photo, voice note or file without a caption what it
 * is ("Photo", "Voice message", the file's name), as notifications say it.
 */
function lastText(
  last: NonNullable<ConversationSummary['lastMessage']>,
  t: TFunction,
  language: string,
  /** Direct conversations: the peer, who made every system line the user did not. */
  peerName?: string,
): string {
  if (last.system) return systemText(last.system, t, language, peerName);
  if (last.text || last.kind === 'text') return last.text;
  if (last.kind === 'image') return t('notification.photo');
  if (last.kind === 'voice') return t('notification.voice');
  return t('notification.file', { name: last.fileName ?? t('attachment.file') });
}

function ConversationRow({
  conversation: c,
  selected,
  typing,
  onOpen,
  onNotice,
}: {
  conversation: ConversationSummary;
  selected: boolean;
  typing: boolean;
  onOpen: () => void;
  onNotice: (text: string) => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const [menu, setMenu] = useState(false);
  const trigger = useRef<HTMLButtonElement>(null);
  const press = useRef<{ timer: ReturnType<typeof setTimeout>; x: number; y: number; fired: boolean } | null>(null);
  const cancelPress = () => {
    if (press.current) clearTimeout(press.current.timer);
  };
  useEffect(() => cancelPress, []);

  const last = c.lastMessage;
  const preview = typing
    ? t('chat.typing')
    : c.draft
      ? t('list.draft', { text: c.draft })
      : last?.undecryptable
        ? t('chat.undecryptable')
        : last?.unshowable
          ? t('chat.unshowable')
          : last
            ? last.system
              ? lastText(last, t, i18n.language, c.group ? undefined : c.title)
              : last.outgoing
                ? t('list.you', { text: lastText(last, t, i18n.language) })
                : last.sender
                  ? t('list.sender', { name: last.sender, text: lastText(last, t, i18n.language) })
                  : lastText(last, t, i18n.language)
            : t('list.noMessages');
  const muted = c.mutedUntil !== undefined;
  const onRowKey = (event: KeyboardEvent<HTMLButtonElement>) => {
    if (event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) {
      event.preventDefault();
      setMenu(true);
    }
  };
  return (
    <li
      className={`conversation-row${menu ? ' menu-open' : ''}`}
      onContextMenu={(event) => {
        event.preventDefault();
        setMenu(true);
      }}
      onPointerDown={(event) => {
        if (event.pointerType !== 'touch') return;
        cancelPress();
        const started = { x: event.clientX, y: event.clientY, fired: false, timer: setTimeout(() => undefined, 0) };
        started.timer = setTimeout(() => {
          started.fired = true;
          setMenu(true);
        }, LONG_PRESS_MS);
        press.current = started;
      }}
      onPointerMove={(event) => {
        const p = press.current;
        if (p && Math.hypot(event.clientX - p.x, event.clientY - p.y) > LONG_PRESS_SLOP_PX) cancelPress();
      }}
      onPointerUp={cancelPress}
      onPointerCancel={cancelPress}
    >
      <button
        type="button"
        className={`conversation${selected ? ' selected' : ''}${c.unread ? ' unread' : ''}${muted ? ' muted' : ''}`}
        data-testid="conversation-item"
        data-conversation={c.title}
        data-pinned={c.pinned ? 'true' : undefined}
        data-muted={muted ? 'true' : undefined}
        data-kind={c.group ? 'group' : 'direct'}
        aria-current={selected ? 'page' : undefined}
        onKeyDown={onRowKey}
        onClick={() => {
          // The click that ends a long press opened the menu; it does not open the chat too.
          if (press.current?.fired) {
            press.current = null;
            return;
          }
          onOpen();
        }}
      >
        <Avatar name={c.title} {...(c.avatar ? { image: c.avatar } : {})} />
        <span className="conversation-body">
          <span className="conversation-top">
            <span className="conversation-title">{c.title}</span>
            {muted ? (
              <span className="row-mark" data-testid="muted-icon" role="img" aria-label={t('list.muted')}>
                <IconMuted />
              </span>
            ) : null}
            {c.pinned ? (
              <span className="row-mark" data-testid="pinned-icon" role="img" aria-label={t('list.pinned')}>
                <IconPin />
              </span>
            ) : null}
            {last ? <time className="conversation-time">{formatListTime(last.at, i18n.language, t)}</time> : null}
          </span>
          <span className="conversation-bottom">
            {c.identityChanged ? (
              <span className="warn-icon" title={t('chat.identityChangedShort')}>
                <IconAlert />
              </span>
            ) : null}
            {last?.outgoing && last.status && !last.system && !typing ? (
              <span className={`mark mark-${last.status}`}>
                <StatusMark status={last.status} />
              </span>
            ) : null}
            <span
              className={`conversation-preview${typing ? ' typing' : c.draft ? ' draft' : ''}`}
              data-testid="conversation-preview"
            >
              {preview}
            </span>
            {c.unread > 0 ? (
              <span
                className={`badge${muted ? ' badge-muted' : ''}`}
                data-testid="unread-count"
                aria-label={t('list.unread', { count: c.unread })}
              >
                {formatCount(c.unread, i18n.language)}
              </span>
            ) : null}
          </span>
        </span>
      </button>
      <button
        ref={trigger}
        type="button"
        className="row-options-trigger icon-button"
        data-testid="chat-options-button"
        aria-label={t('chatOptions.open', { name: c.title })}
        aria-haspopup="menu"
        aria-expanded={menu}
        onClick={() => setMenu((open) => !open)}
      >
        <span aria-hidden="true">⋯</span>
      </button>
      {menu ? (
        <ChatOptionsMenu
          conversation={c}
          placement="row"
          onNotice={onNotice}
          onClose={(refocus) => {
            setMenu(false);
            if (refocus) trigger.current?.focus();
          }}
        />
      ) : null}
    </li>
  );
}

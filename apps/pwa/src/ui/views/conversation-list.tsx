/**
 * The conversation list: pinned chats on top (in the order pinned), then newest activity first, each entry with
 * avatar, name, last message (or a typing note), time, unread count and the muted and pinned marks; message
 * requests in a section of their own above it; blocked people's conversations hidden; archived chats behind an
 * "Archived" entry at the end, which opens them as a list of their own. A search box above the list replaces it
 * with results (conversations by name, messages with the match highlighted), searched again as messages arrive.
 * Selecting an entry opens the chat (a message result scrolled to the message); its options (mute, pin, archive)
 * open from a "⋯" button, right click, the context-menu key or a long press. Each entry renders inside its own
 * error boundary, so one that cannot be shown leaves the others usable.
 */
import type { TFunction } from 'i18next';
import { useEffect, useRef, useState, type KeyboardEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { Avatar } from '../avatar.js';
import type { ConversationSummary, SearchHit } from '../../app/model.js';
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
  onOpenMessage,
  onNewChat,
  onNewGroup,
  onSettings,
}: {
  selected: string | null;
  onOpen: (id: string) => void;
  /** Opens a conversation scrolled to one of its messages (a search result). */
  onOpenMessage: (id: string, messageId: string) => void;
  onNewChat: () => void;
  onNewGroup: () => void;
  onSettings: () => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const state = useAppState();
  const all = useLive(() => app.list.conversations(), []);
  const username = state.phase.kind === 'ready' ? state.phase.username : '';
  const [query, setQuery] = useState('');
  const searching = query.trim() !== '';
  // Blocked peers' conversations are hidden (settings lists them); requests have a section of their own.
  const visible = all?.filter((c) => !c.blocked);
  const requests = visible?.filter((c) => c.request) ?? [];
  const conversations = visible?.filter((c) => !c.request);
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
      <SearchBox query={query} onQuery={setQuery} />
      {searching ? <SearchResults query={query} onOpen={onOpen} onOpenMessage={onOpenMessage} /> : null}
      {notice ? (
        <p className="list-notice" role="status" data-testid="list-notice">
          {notice}
        </p>
      ) : null}
      {!searching && !showArchived && requests.length > 0 ? (
        <section className="requests-section" aria-labelledby="requests-title" data-testid="requests-section">
          <h2 id="requests-title" className="list-section-title">
            {t('requests.title')} <span className="badge">{formatCount(requests.length, i18n.language)}</span>
          </h2>
          <ul className="conversations" aria-labelledby="requests-title">
            {requests.map((c) => (
              <ErrorBoundary key={c.id} fallback={() => <ConversationError />}>
                <ConversationRow
                  conversation={c}
                  selected={selected === c.id}
                  typing={false}
                  onOpen={() => onOpen(c.id)}
                  onNotice={setNotice}
                />
              </ErrorBoundary>
            ))}
          </ul>
        </section>
      ) : null}
      {searching ? null : shown === undefined ? (
        <div className="list-empty" aria-busy="true" />
      ) : shown.length === 0 && archived.length === 0 && requests.length === 0 ? (
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
        data-request={c.request ? 'true' : undefined}
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
            <span className="conversation-title" {...(c.notices ? { 'data-testid': 'notices-conversation' } : {})}>
              {c.notices ? t('notices.title') : c.title}
            </span>
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
            {c.request ? <span className="request-tag">{t('requests.badge')}</span> : null}
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

/** How long typing pauses before the search runs (each keystroke would otherwise decrypt every message again). */
const SEARCH_DEBOUNCE_MS = 150;

function SearchBox({ query, onQuery }: { query: string; onQuery: (query: string) => void }): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="search-box" role="search">
      <input
        type="search"
        value={query}
        onChange={(e) => onQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onQuery('');
        }}
        placeholder={t('search.placeholder')}
        aria-label={t('search.label')}
        data-testid="search-input"
        autoComplete="off"
        spellCheck={false}
        maxLength={256}
      />
    </div>
  );
}

function SearchResults({
  query,
  onOpen,
  onOpenMessage,
}: {
  query: string;
  onOpen: (id: string) => void;
  onOpenMessage: (id: string, messageId: string) => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const { revision } = useAppState();
  const [hits, setHits] = useState<SearchHit[] | null | 'failed'>(null);
  useEffect(() => {
    let current = true;
    const timer = setTimeout(() => {
      app.list.search(query).then(
        (found) => current && setHits(found),
        () => current && setHits('failed'),
      );
    }, SEARCH_DEBOUNCE_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [app, query, revision]);
  if (hits === null) return <div className="list-empty" aria-busy="true" />;
  if (hits === 'failed')
    return (
      <p className="list-empty muted" role="status">
        {t('search.failed')}
      </p>
    );
  if (hits.length === 0)
    return (
      <p className="list-empty muted" role="status" data-testid="search-empty">
        {t('search.none', { query: query.trim() })}
      </p>
    );
  return (
    <ul className="conversations search-results" aria-label={t('search.results')}>
      {hits.map((hit) => (
        <li key={hit.messageId ?? hit.conversationId}>
          <button
            type="button"
            className="conversation search-result"
            data-testid="search-result"
            data-kind={hit.kind}
            onClick={() =>
              hit.messageId ? onOpenMessage(hit.conversationId, hit.messageId) : onOpen(hit.conversationId)
            }
          >
            <Avatar name={hit.title} />
            <span className="conversation-body">
              <span className="conversation-top">
                <span className="conversation-title">
                  <Highlighted parts={hit.titleParts} />
                </span>
                {hit.kind === 'message' ? (
                  <time className="conversation-time">{formatListTime(hit.at, i18n.language, t)}</time>
                ) : null}
              </span>
              {hit.kind === 'message' ? (
                <span className="conversation-bottom">
                  <span className="conversation-preview search-snippet">
                    {hit.outgoing ? `${t('search.you')}: ` : null}
                    <Highlighted parts={hit.snippet} />
                  </span>
                </span>
              ) : null}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}

/** Text with its matched parts marked. */
function Highlighted({ parts }: { parts: readonly { text: string; match: boolean }[] }): ReactElement {
  return (
    <>
      {parts.map((part, i) =>
        part.match ? (
          <mark key={i} data-testid="search-match">
            {part.text}
          </mark>
        ) : (
          <span key={i}>{part.text}</span>
        ),
      )}
    </>
  );
}

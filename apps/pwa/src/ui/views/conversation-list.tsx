/**
 * The conversation list: newest activity first, each entry with avatar, name, last message (or a typing note),
 * time and unread count; message requests in a section of their own above it; blocked people's conversations
 * hidden. A search box above the list replaces it with results (conversations by name, messages with the match
 * highlighted), searched again as messages arrive. Selecting an entry opens the chat (a message result scrolled
 * to the message). Each entry renders inside its own error boundary, so
 * one that cannot be shown leaves the others usable.
 */
import type { TFunction } from 'i18next';
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { Avatar } from '../avatar.js';
import type { ConversationSummary, SearchHit } from '../../app/model.js';
import { ConversationError, ErrorBoundary } from '../error-boundary.js';
import { formatCount, formatTimer, formatListTime } from '../format.js';
import { IconAlert, IconPlus, IconSettings, StatusMark } from '../icons.js';
import { InstallBanner } from './platform-limits/install-banner.js';
import { useApp, useAppState, useLive } from '../use-app.js';
import { ConnectionState } from './connection-state.js';

export function ConversationList({
  selected,
  onOpen,
  onOpenMessage,
  onNewChat,
  onSettings,
}: {
  selected: string | null;
  onOpen: (id: string) => void;
  /** Opens a conversation scrolled to one of its messages (a search result). */
  onOpenMessage: (id: string, messageId: string) => void;
  onNewChat: () => void;
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

  return (
    <section className="list-pane" aria-labelledby="list-title">
      <header className="toolbar">
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
          onClick={onNewChat}
          aria-label={t('list.newChat')}
          data-testid="new-chat-button"
        >
          <IconPlus />
        </button>
      </header>
      <ConnectionState />
      <InstallBanner />
      <SearchBox query={query} onQuery={setQuery} />
      {searching ? <SearchResults query={query} onOpen={onOpen} onOpenMessage={onOpenMessage} /> : null}
      {!searching && requests.length > 0 ? (
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
                />
              </ErrorBoundary>
            ))}
          </ul>
        </section>
      ) : null}
      {searching ? null : conversations === undefined ? (
        <div className="list-empty" aria-busy="true" />
      ) : conversations.length === 0 && requests.length === 0 ? (
        <div className="list-empty">
          <p className="muted">{t('list.empty')}</p>
          <button type="button" className="primary" onClick={onNewChat}>
            {t('list.startFirst')}
          </button>
        </div>
      ) : (
        <ul className="conversations" aria-label={t('list.title')}>
          {conversations.map((c) => (
            <ErrorBoundary key={c.id} fallback={() => <ConversationError />}>
              <ConversationRow
                conversation={c}
                selected={selected === c.id}
                typing={state.typing.has(c.id)}
                onOpen={() => onOpen(c.id)}
              />
            </ErrorBoundary>
          ))}
        </ul>
      )}
    </section>
  );
}

/**
 * The last message as the list previews it: its text, or for a photo, voice note or file without a caption what it
 * is ("Photo", "Voice message", the file's name), as notifications say it.
 */
function lastText(last: NonNullable<ConversationSummary['lastMessage']>, t: TFunction, language: string): string {
  if (last.system)
    return last.system.seconds === null
      ? t('disappearing.off')
      : t('disappearing.setTo', { time: formatTimer(last.system.seconds, language) });
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
}: {
  conversation: ConversationSummary;
  selected: boolean;
  typing: boolean;
  onOpen: () => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
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
            ? last.outgoing
              ? t('list.you', { text: lastText(last, t, i18n.language) })
              : lastText(last, t, i18n.language)
            : t('list.noMessages');
  return (
    <li>
      <button
        type="button"
        className={`conversation${selected ? ' selected' : ''}${c.unread ? ' unread' : ''}`}
        data-testid="conversation-item"
        data-conversation={c.title}
        data-request={c.request ? 'true' : undefined}
        aria-current={selected ? 'page' : undefined}
        onClick={onOpen}
      >
        <Avatar name={c.title} />
        <span className="conversation-body">
          <span className="conversation-top">
            <span className="conversation-title">{c.title}</span>
            {c.request ? <span className="request-tag">{t('requests.badge')}</span> : null}
            {last ? <time className="conversation-time">{formatListTime(last.at, i18n.language, t)}</time> : null}
          </span>
          <span className="conversation-bottom">
            {c.identityChanged ? (
              <span className="warn-icon" title={t('chat.identityChangedShort')}>
                <IconAlert />
              </span>
            ) : null}
            {last?.outgoing && last.status && !typing ? (
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
              <span className="badge" data-testid="unread-count" aria-label={t('list.unread', { count: c.unread })}>
                {formatCount(c.unread, i18n.language)}
              </span>
            ) : null}
          </span>
        </span>
      </button>
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

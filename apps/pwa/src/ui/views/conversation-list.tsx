/**
 * The conversation list: newest activity first, each entry with avatar, name, last message (or a typing note),
 * time and unread count. Selecting an entry opens the chat. Each entry renders inside its own error boundary, so
 * one that cannot be shown leaves the others usable.
 */
import type { TFunction } from 'i18next';
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { Avatar } from '../avatar.js';
import type { ConversationSummary } from '../../app/model.js';
import { ConversationError, ErrorBoundary } from '../error-boundary.js';
import { formatCount, formatTimer, formatListTime } from '../format.js';
import { IconAlert, IconPlus, IconSettings, StatusMark } from '../icons.js';
import { InstallBanner } from './platform-limits/install-banner.js';
import { useApp, useAppState, useLive } from '../use-app.js';
import { ConnectionState } from './connection-state.js';

export function ConversationList({
  selected,
  onOpen,
  onNewChat,
  onSettings,
}: {
  selected: string | null;
  onOpen: (id: string) => void;
  onNewChat: () => void;
  onSettings: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const state = useAppState();
  const conversations = useLive(() => app.list.conversations(), []);
  const username = state.phase.kind === 'ready' ? state.phase.username : '';

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
      {conversations === undefined ? (
        <div className="list-empty" aria-busy="true" />
      ) : conversations.length === 0 ? (
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
        aria-current={selected ? 'page' : undefined}
        onClick={onOpen}
      >
        <Avatar name={c.title} {...(c.avatar ? { image: c.avatar } : {})} />
        <span className="conversation-body">
          <span className="conversation-top">
            <span className="conversation-title">{c.title}</span>
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

/**
 * The chat's toolbar: back, the contact (avatar, name, verified badge, muted mark) as a button to the contact screen
 * (for a group the same button opens the group info, `group-info-button`), the line under the name (typing, or
 * encrypted/verified), the disappearing-messages timer (timer-menu.tsx; direct conversations only, never the
 * read-only Notices) and the conversation's options (mute, pin, archive: chat-options-menu.tsx); then the banners for a changed safety number
 * and for the connection (connection-state.tsx). Display only: it loads nothing.
 */
import { useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ConversationSummary } from '../../../app/model.js';
import { Avatar } from '../../avatar.js';
import { IconAlert, IconBack, IconMuted, IconShieldCheck } from '../../icons.js';
import { ChatOptionsMenu } from '../chat-options-menu.js';
import { ConnectionState } from '../connection-state.js';
import { TimerMenu } from './timer-menu.js';

export function ChatHeader({
  conversation,
  typing,
  typingName = null,
  onBack,
  onContact,
  onTimer,
}: {
  conversation: ConversationSummary | undefined;
  typing: boolean;
  /** Who is typing, in a group ("Ann is typing…"); null in a direct chat or when unknown. */
  typingName?: string | null;
  onBack: () => void;
  onContact: () => void;
  /** Sets the disappearing-message timer; absent where the conversation has no such setting here (groups). */
  onTimer?: (seconds: number | null) => void;
}): ReactElement {
  const { t } = useTranslation();
  const title = conversation?.notices ? t('notices.title') : (conversation?.title ?? '');
  const [menu, setMenu] = useState(false);
  const [notice, setNotice] = useState<string | null>(null);
  const trigger = useRef<HTMLButtonElement>(null);
  return (
    <>
      <header className="toolbar chat-toolbar">
        <button type="button" className="icon-button back-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <button
          type="button"
          className="chat-peer"
          onClick={conversation?.notices ? undefined : onContact}
          disabled={conversation?.notices === true}
          title={conversation?.group ? t('group.openInfo', { name: title }) : t('chat.openContact', { name: title })}
          data-testid={conversation?.group ? 'group-info-button' : undefined}
        >
          <Avatar name={title || '?'} size={38} {...(conversation?.avatar ? { image: conversation.avatar } : {})} />
          <span className="chat-peer-text">
            <span id="chat-title" className="chat-title">
              {title}
              {conversation?.verified ? (
                <span className="verified-badge" aria-hidden="true">
                  <IconShieldCheck />
                </span>
              ) : null}
              {conversation?.mutedUntil !== undefined ? (
                <span className="row-mark" data-testid="chat-muted-icon" role="img" aria-label={t('list.muted')}>
                  <IconMuted />
                </span>
              ) : null}
            </span>
            <span className="chat-sub" aria-live="polite" data-testid="typing-indicator">
              {typing
                ? typingName
                  ? t('chat.typingNamed', { name: typingName })
                  : t('chat.typing')
                : conversation?.verified
                  ? `${t('contact.verified')} · ${t('chat.encrypted')}`
                  : t('chat.encrypted')}
            </span>
          </span>
        </button>
        {onTimer && conversation && !conversation.notices ? (
          <TimerMenu seconds={conversation.expireTimerSeconds ?? null} onChoose={onTimer} />
        ) : null}
        {conversation ? (
          <button
            ref={trigger}
            type="button"
            className="icon-button"
            data-testid="chat-header-options-button"
            aria-label={t('chatOptions.open', { name: title })}
            aria-haspopup="menu"
            aria-expanded={menu}
            onClick={() => setMenu((open) => !open)}
          >
            <span aria-hidden="true">⋯</span>
          </button>
        ) : null}
        {menu && conversation ? (
          <ChatOptionsMenu
            conversation={conversation}
            placement="header"
            onNotice={setNotice}
            onClose={(refocus) => {
              setMenu(false);
              if (refocus) trigger.current?.focus();
            }}
          />
        ) : null}
      </header>
      {notice ? (
        <p className="list-notice" role="status">
          {notice}
        </p>
      ) : null}

      {conversation?.identityChanged ? (
        <div className="banner warn" role="alert" data-testid="safety-changed-banner">
          <IconAlert />
          <p>{t('chat.identityChanged', { name: title })}</p>
          <button type="button" className="secondary small" onClick={onContact}>
            {t('chat.verify')}
          </button>
        </div>
      ) : null}
      <ConnectionState />
    </>
  );
}

/**
 * The chat's toolbar: back, the contact (avatar, name, verified badge) as a button to the contact screen, and the
 * line under the name (typing, or encrypted/verified), the disappearing-messages timer (timer-menu.tsx); then the banners for a changed safety number and for the
 * connection (connection-state.tsx). Display only: it loads nothing.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ConversationSummary } from '../../../app/model.js';
import { Avatar } from '../../avatar.js';
import { IconAlert, IconBack, IconShieldCheck } from '../../icons.js';
import { ConnectionState } from '../connection-state.js';
import { TimerMenu } from './timer-menu.js';

export function ChatHeader({
  conversation,
  typing,
  onBack,
  onContact,
  onTimer,
}: {
  conversation: ConversationSummary | undefined;
  typing: boolean;
  onBack: () => void;
  onContact: () => void;
  /** Sets the disappearing-message timer; absent where the conversation has no such setting here (groups). */
  onTimer?: (seconds: number | null) => void;
}): ReactElement {
  const { t } = useTranslation();
  const title = conversation?.title ?? '';
  return (
    <>
      <header className="toolbar chat-toolbar">
        <button type="button" className="icon-button back-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <button type="button" className="chat-peer" onClick={onContact} title={t('chat.openContact', { name: title })}>
          <Avatar name={title || '?'} size={38} {...(conversation?.avatar ? { image: conversation.avatar } : {})} />
          <span className="chat-peer-text">
            <span id="chat-title" className="chat-title">
              {title}
              {conversation?.verified ? (
                <span className="verified-badge" aria-hidden="true">
                  <IconShieldCheck />
                </span>
              ) : null}
            </span>
            <span className="chat-sub" aria-live="polite" data-testid="typing-indicator">
              {typing
                ? t('chat.typing')
                : conversation?.verified
                  ? `${t('contact.verified')} · ${t('chat.encrypted')}`
                  : t('chat.encrypted')}
            </span>
          </span>
        </button>
        {onTimer && conversation ? (
          <TimerMenu seconds={conversation.expireTimerSeconds ?? null} onChoose={onTimer} />
        ) : null}
      </header>

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

/**
 * The dialogs of the message actions: message info (sent, accepted by the server, edited, and per recipient
 * delivered and read times, plus the earlier versions of an edited message), the delete confirmation (for me, and
 * for everyone when allowed) and the forward picker (choose a conversation). Modal `<dialog>`s; Escape cancels.
 * They load what they show through the chat and list screens and act only through their callbacks.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage, ConversationSummary, MessageInfoView } from '../../../app/model.js';
import { NO_VALUE, isoTime, validTime } from '../../format.js';
import { Modal } from '../../modal.js';
import { useApp } from '../../use-app.js';

/** Date and time in the user's language, or a dash for no value. */
const formatDateTime = (value: number | null, language: string): string => {
  const ms = validTime(value);
  if (ms === null) return NO_VALUE;
  try {
    return new Intl.DateTimeFormat(language, { dateStyle: 'medium', timeStyle: 'medium' }).format(ms);
  } catch {
    return NO_VALUE;
  }
};

function TimeRow({ label, value, testId }: { label: string; value: number | null; testId: string }): ReactElement {
  const { i18n } = useTranslation();
  return (
    <>
      <dt>{label}</dt>
      <dd data-testid={testId}>
        <time dateTime={isoTime(value)}>{formatDateTime(value, i18n.language)}</time>
      </dd>
    </>
  );
}

export function MessageInfoDialog({ message, onClose }: { message: ChatMessage; onClose: () => void }): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [info, setInfo] = useState<MessageInfoView | null | undefined>(undefined);
  useEffect(() => {
    let live = true;
    void app.chat
      .info(message.id)
      .then((value) => live && setInfo(value))
      .catch(() => live && setInfo(null));
    return () => {
      live = false;
    };
  }, [app, message.id]);

  return (
    <Modal titleId="message-info-title" title={t('actions.infoTitle')} testId="message-info" onClose={onClose}>
      {info === undefined ? <p className="muted">{t('actions.loading')}</p> : null}
      {info === null ? <p className="muted">{t('actions.infoUnavailable')}</p> : null}
      {info ? (
        <dl className="info-list">
          <TimeRow label={t('actions.sentAt')} value={info.sentAt} testId="info-sent" />
          {message.outgoing ? (
            <TimeRow label={t('actions.serverAt')} value={info.serverAt} testId="info-server" />
          ) : null}
          {info.editedAt !== null ? (
            <TimeRow label={t('actions.editedAt')} value={info.editedAt} testId="info-edited" />
          ) : null}
          {info.recipients.map((r) => (
            <div key={r.name} className="info-recipient" data-testid="info-recipient">
              <dt>{r.name}</dt>
              <dd>
                {t('status.delivered')}:{' '}
                <time data-testid="info-delivered" dateTime={isoTime(r.deliveredAt)}>
                  {formatDateTime(r.deliveredAt, i18n.language)}
                </time>
              </dd>
              <dd>
                {t('status.read')}:{' '}
                <time data-testid="info-read" dateTime={isoTime(r.readAt)}>
                  {formatDateTime(r.readAt, i18n.language)}
                </time>
              </dd>
            </div>
          ))}
        </dl>
      ) : null}
      {message.edits && message.edits.length > 0 ? (
        <section aria-labelledby="edit-history-title">
          <h3 id="edit-history-title">{t('actions.editHistory')}</h3>
          <ol className="edit-history" data-testid="edit-history">
            {message.edits.map((e, i) => (
              <li key={i}>
                <span className="muted">{formatDateTime(e.at, i18n.language)}</span> {e.text}
              </li>
            ))}
            <li>
              <strong>{t('actions.current')}</strong> {message.text}
            </li>
          </ol>
        </section>
      ) : null}
    </Modal>
  );
}

export function DeleteDialog({
  message,
  forEveryone,
  onDelete,
  onClose,
}: {
  message: ChatMessage;
  /** Whether "delete for everyone" is offered (the user's own message, within 24 hours). */
  forEveryone: boolean;
  onDelete: (forEveryone: boolean) => void;
  onClose: () => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <Modal titleId="delete-title" title={t('actions.deleteTitle')} testId="delete-dialog" onClose={onClose}>
      <p>{forEveryone && !message.deleted ? t('actions.deleteExplainEveryone') : t('actions.deleteExplainMe')}</p>
      <div className="dialog-actions stacked">
        <button type="button" className="secondary" onClick={onClose}>
          {t('common.cancel')}
        </button>
        <button type="button" className="danger" data-testid="confirm-delete-me" onClick={() => onDelete(false)}>
          {t('actions.deleteForMe')}
        </button>
        {forEveryone && !message.deleted ? (
          <button type="button" className="danger" data-testid="confirm-delete-everyone" onClick={() => onDelete(true)}>
            {t('actions.deleteForEveryone')}
          </button>
        ) : null}
      </div>
    </Modal>
  );
}

export function ForwardDialog({
  currentConversationId,
  onForward,
  onClose,
}: {
  currentConversationId: string;
  onForward: (conversationId: string) => void;
  onClose: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [conversations, setConversations] = useState<ConversationSummary[] | null>(null);
  useEffect(() => {
    let live = true;
    void app.list
      .conversations()
      .then((list) => live && setConversations(list))
      .catch(() => live && setConversations([]));
    return () => {
      live = false;
    };
  }, [app]);
  return (
    <Modal titleId="forward-title" title={t('actions.forwardTitle')} testId="forward-dialog" onClose={onClose}>
      {conversations === null ? <p className="muted">{t('actions.loading')}</p> : null}
      {conversations?.length === 0 ? <p className="muted">{t('actions.noConversations')}</p> : null}
      <ul className="forward-list">
        {conversations?.map((c) => (
          <li key={c.id}>
            <button
              type="button"
              className="secondary forward-target"
              data-testid="forward-target"
              data-conversation={c.title}
              onClick={() => onForward(c.id)}
            >
              {c.title}
              {c.id === currentConversationId ? ` (${t('actions.thisChat')})` : ''}
            </button>
          </li>
        ))}
      </ul>
    </Modal>
  );
}

/**
 * The bar above the composer in a message request — who wrote, a warning, and Accept / Block / Delete (block and
 * delete ask once more, inline) — or, instead of the composer, in a blocked person's chat: that they are blocked,
 * and Unblock.
 * Blocking or deleting leaves the chat (`onGone`). It decides nothing itself: the chat view model does the work.
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ConversationSummary } from '../../../app/model.js';
import { useApp } from '../../use-app.js';

type Pending = 'block' | 'delete' | null;

export function RequestBar({
  conversation,
  onGone,
}: {
  conversation: ConversationSummary;
  onGone: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [pending, setPending] = useState<Pending>(null);
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState(false);
  const name = conversation.title;
  const group = conversation.id.startsWith('group:');

  const run = (action: () => Promise<void>, leave: boolean) => {
    setBusy(true);
    setFailed(false);
    void action().then(
      () => {
        setBusy(false);
        setPending(null);
        if (leave) onGone();
      },
      () => {
        setBusy(false);
        setFailed(true);
      },
    );
  };

  const confirm =
    pending === null ? null : (
      <div className="request-confirm" role="group" aria-labelledby="request-confirm-text">
        <p id="request-confirm-text">
          {pending === 'block' ? t('requests.blockConfirm', { name }) : t('requests.deleteConfirm')}
        </p>
        <div className="request-actions">
          <button type="button" onClick={() => setPending(null)} disabled={busy}>
            {t('common.cancel')}
          </button>
          <button
            type="button"
            className="danger"
            data-testid={pending === 'block' ? 'request-block-confirm' : 'request-delete-confirm'}
            disabled={busy}
            onClick={() =>
              pending === 'block'
                ? run(() => app.chat.block(conversation.id), true)
                : run(() => app.chat.deleteConversation(conversation.id), true)
            }
          >
            {pending === 'block' ? t('requests.block') : t('requests.delete')}
          </button>
        </div>
      </div>
    );

  return (
    <div className="request-bar" data-testid={conversation.blocked ? 'blocked-bar' : 'request-bar'}>
      {conversation.blocked ? (
        <p className="request-warning" role="status">
          {t('requests.blocked', { name })}
        </p>
      ) : (
        <p className="request-warning">
          {group ? t('requests.groupWarning', { name }) : t('requests.warning', { name })}
        </p>
      )}
      {confirm ?? (
        <div className="request-actions">
          {conversation.blocked ? (
            <button
              type="button"
              className="primary"
              data-testid="request-unblock"
              disabled={busy}
              onClick={() => run(() => app.chat.accept(conversation.id), false)}
            >
              {t('requests.unblock')}
            </button>
          ) : (
            <>
              <button type="button" className="danger" data-testid="request-block" onClick={() => setPending('block')}>
                {t('requests.block')}
              </button>
              <button type="button" data-testid="request-delete" onClick={() => setPending('delete')}>
                {t('requests.delete')}
              </button>
              <button
                type="button"
                className="primary"
                data-testid="request-accept"
                disabled={busy}
                onClick={() => run(() => app.chat.accept(conversation.id), false)}
              >
                {t('requests.accept')}
              </button>
            </>
          )}
        </div>
      )}
      {failed ? (
        <p className="error" role="alert">
          {t('requests.failed')}
        </p>
      ) : null}
    </div>
  );
}

/**
 * The console's notice card: write an organization notice and send it to every member (end-to-end encrypted by the
 * messenger core, shown in their pinned Notices conversation). Display only: it sends through the admin view model
 * and says how many members it went to.
 */
import { useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminFailure } from '../../../app/model.js';
import { useApp } from '../../use-app.js';
import { adminErrorKey } from './admin-errors.js';

export function NoticeSection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [sent, setSent] = useState<number | null>(null);
  const [error, setError] = useState<AdminFailure | null>(null);

  const send = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setSent(null);
    const outcome = await app.admin.sendNotice(text);
    setBusy(false);
    if (outcome.ok) {
      setSent(outcome.value);
      setText('');
    } else setError(outcome.error);
  };

  return (
    <div className="card" data-testid="admin-notice">
      <h2>{t('admin.notice.title')}</h2>
      <p className="muted">{t('admin.notice.hint')}</p>
      <form onSubmit={(e) => void send(e)}>
        <label className="field">
          <span className="visually-hidden">{t('admin.notice.label')}</span>
          <textarea
            rows={3}
            value={text}
            data-testid="admin-notice-input"
            placeholder={t('admin.notice.placeholder')}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <button
          type="submit"
          className="primary"
          data-testid="admin-notice-send-button"
          disabled={busy || text.trim().length === 0}
        >
          {busy ? t('settings.working') : t('admin.notice.send')}
        </button>
      </form>
      {sent !== null ? (
        <p className="success" role="status" data-testid="admin-notice-sent">
          {t('admin.notice.sent', { count: sent })}
        </p>
      ) : null}
      {error ? (
        <p className="error" role="alert">
          {t(adminErrorKey(error))}
        </p>
      ) : null}
    </div>
  );
}

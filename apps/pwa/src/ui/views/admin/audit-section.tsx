/**
 * The console's audit log card: the hash-chained log, loaded from the start (again whenever the app's data changes,
 * as after an action in another card) and paged on with "more" (actor, action, target, time, account ids named where known), and "Verify chain", which has the core
 * check every link and hash and that the head verified before is still there, and shows the verdict. Display only.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminAuditCheck, AdminAuditEntryView, AdminFailure } from '../../../app/model.js';
import { useApp, useAppState } from '../../use-app.js';
import { adminErrorKey, MINUTE } from './admin-errors.js';

export function AuditSection(): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [entries, setEntries] = useState<AdminAuditEntryView[]>([]);
  const [next, setNext] = useState<number | null>(0);
  const [error, setError] = useState<AdminFailure | null>(null);
  const [check, setCheck] = useState<AdminAuditCheck | 'busy' | null>(null);
  const [checkError, setCheckError] = useState<AdminFailure | null>(null);
  const time = (ms: number) => new Date(ms).toLocaleString(i18n.language, MINUTE);
  /** Reloaded when the app's data changes (an action in another card is recorded in the log). */
  const { revision } = useAppState();

  const load = async (after: number, replace: boolean) => {
    // The member list names account ids: read it first so the entries show usernames.
    await app.admin.members();
    const page = await app.admin.audit(after);
    if (!page.ok) {
      setError(page.error);
      return;
    }
    setError(null);
    setEntries((old) => (replace ? page.value.entries : [...old, ...page.value.entries]));
    setNext(page.value.more ? page.value.next : null);
  };

  useEffect(() => {
    void load(0, true);
  }, [revision]);

  const verify = async () => {
    setCheck('busy');
    setCheckError(null);
    const outcome = await app.admin.verifyAudit();
    if (outcome.ok) setCheck(outcome.value);
    else {
      setCheck(null);
      setCheckError(outcome.error);
    }
  };

  return (
    <div className="card" data-testid="admin-audit">
      <h2 id="admin-audit-title">{t('admin.audit.title')}</h2>
      <div className="admin-actions">
        <button
          type="button"
          className="secondary small"
          data-testid="admin-audit-verify-button"
          disabled={check === 'busy'}
          onClick={() => void verify()}
        >
          {check === 'busy' ? t('settings.working') : t('admin.audit.verify')}
        </button>
        <button type="button" className="secondary small" onClick={() => void load(0, true)}>
          {t('admin.audit.refresh')}
        </button>
      </div>
      {check && check !== 'busy' ? (
        <p
          className={check.intact ? 'success' : 'error'}
          role={check.intact ? 'status' : 'alert'}
          data-testid="admin-audit-verify-result"
          data-intact={check.intact ? 'true' : 'false'}
        >
          {check.intact
            ? t('admin.audit.intact', { count: check.entries })
            : t('admin.audit.broken', { seq: check.brokenAt ?? '?' })}
        </p>
      ) : null}
      {checkError ? (
        <p className="error" role="alert" data-testid="admin-audit-verify-result" data-intact="unknown">
          {t(adminErrorKey(checkError))}
        </p>
      ) : null}
      {error ? <p className="error">{t(adminErrorKey(error))}</p> : null}
      <div className="admin-table-wrap">
        <table className="admin-table" aria-labelledby="admin-audit-title">
          <thead>
            <tr>
              <th scope="col">{t('admin.audit.time')}</th>
              <th scope="col">{t('admin.audit.actor')}</th>
              <th scope="col">{t('admin.audit.action')}</th>
              <th scope="col">{t('admin.audit.target')}</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.seq} data-testid="admin-audit-row" data-event={e.event}>
                <td>{time(e.at)}</td>
                <td>{e.actor === 'operator' ? t('admin.audit.operator') : e.actor}</td>
                <td>{t(`admin.audit.events.${e.event}`, { defaultValue: e.event })}</td>
                <td>{e.target}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {next !== null && entries.length > 0 ? (
        <button type="button" className="secondary small" onClick={() => void load(next, false)}>
          {t('admin.audit.more')}
        </button>
      ) : null}
    </div>
  );
}

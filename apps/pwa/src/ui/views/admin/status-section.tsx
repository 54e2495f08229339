/**
 * The console's server status card: version, uptime, live connections (on the answering instance), the job queues,
 * envelopes waiting for delivery, accounts and devices — counts only, refreshed on demand. Display only.
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminOutcome, AdminStatusView } from '../../../app/model.js';
import { formatCount, formatDuration } from '../../format.js';
import { useApp, useLive } from '../../use-app.js';
import { adminErrorKey } from './admin-errors.js';

export function StatusSection(): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [reload, setReload] = useState(0);
  const status = useLive<AdminOutcome<AdminStatusView>>(() => app.admin.status(), [reload]);
  const n = (value: number) => formatCount(value, i18n.language);
  return (
    <div className="card" data-testid="admin-status">
      <h2>{t('admin.status.title')}</h2>
      {status === undefined ? (
        <p className="muted" aria-busy="true">
          {t('admin.loading')}
        </p>
      ) : !status.ok ? (
        <p className="error">{t(adminErrorKey(status.error))}</p>
      ) : (
        <dl className="admin-stats">
          <Stat label={t('admin.status.version')} value={status.value.version} />
          <Stat label={t('admin.status.uptime')} value={formatDuration(status.value.uptimeSeconds * 1000)} />
          <Stat
            label={t('admin.status.connections')}
            value={n(status.value.connections)}
            testId="admin-status-connections"
          />
          <Stat label={t('admin.status.pending')} value={n(status.value.pendingEnvelopes)} />
          <Stat label={t('admin.status.accounts')} value={n(status.value.accounts)} />
          <Stat label={t('admin.status.devices')} value={n(status.value.devices)} />
          {status.value.queues.map((q) => (
            <Stat
              key={q.name}
              label={t('admin.status.queue', { name: q.name })}
              value={t('admin.status.queueCounts', {
                waiting: n(q.waiting),
                active: n(q.active),
                delayed: n(q.delayed),
                failed: n(q.failed),
              })}
              testId="admin-status-queue"
            />
          ))}
        </dl>
      )}
      <button type="button" className="secondary small" onClick={() => setReload((k) => k + 1)}>
        {t('admin.status.refresh')}
      </button>
    </div>
  );
}

function Stat({ label, value, testId }: { label: string; value: string; testId?: string }): ReactElement {
  return (
    <div className="admin-stat" data-testid={testId}>
      <dt>{label}</dt>
      <dd>{value}</dd>
    </div>
  );
}

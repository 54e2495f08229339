/**
 * The console's retention card: how many days the server keeps undelivered envelopes and finished attachments, the
 * server's defaults beside them, and a form to set either (an empty field goes back to the default). Display only:
 * the bounds are the server's (an hour to a year), the form mirrors them in days.
 */
import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminFailure, AdminOutcome, AdminRetentionView } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';
import { adminErrorKey } from './admin-errors.js';
import { NumberField } from './number-field.js';

/** The server's bounds in days (MIN_RETENTION_SECONDS is an hour, MAX_RETENTION_SECONDS a leap year). */
const MIN_DAYS = 1 / 24;
const MAX_DAYS = 366;

const parse = (text: string): number | null | 'invalid' => {
  if (text.trim() === '') return null;
  const value = Number(text);
  return Number.isFinite(value) && value >= MIN_DAYS && value <= MAX_DAYS ? value : 'invalid';
};

export function RetentionSection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [reload, setReload] = useState(0);
  const loaded = useLive<AdminOutcome<AdminRetentionView>>(() => app.admin.retention(), [reload]);
  const [envelope, setEnvelope] = useState('');
  const [attachment, setAttachment] = useState('');
  const [busy, setBusy] = useState(false);
  const [saved, setSaved] = useState(false);
  const [error, setError] = useState<AdminFailure | null>(null);
  const current = loaded?.ok ? loaded.value : null;

  useEffect(() => {
    if (!current) return;
    setEnvelope(current.envelopeOverridden ? String(current.envelopeDays) : '');
    setAttachment(current.attachmentOverridden ? String(current.attachmentDays) : '');
  }, [current?.envelopeDays, current?.attachmentDays, current?.envelopeOverridden, current?.attachmentOverridden]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setSaved(false);
    const e = parse(envelope);
    const a = parse(attachment);
    if (e === 'invalid' || a === 'invalid') {
      setError('invalid');
      return;
    }
    setBusy(true);
    setError(null);
    const outcome = await app.admin.setRetention(e, a);
    setBusy(false);
    if (outcome.ok) {
      setSaved(true);
      setReload((n) => n + 1);
    } else setError(outcome.error);
  };

  return (
    <div className="card" data-testid="admin-retention">
      <h2>{t('admin.retention.title')}</h2>
      {loaded && !loaded.ok ? <p className="error">{t(adminErrorKey(loaded.error))}</p> : null}
      {current ? (
        <p className="muted" data-testid="admin-retention-current">
          {t('admin.retention.current', { envelope: current.envelopeDays, attachment: current.attachmentDays })}
        </p>
      ) : null}
      <form className="admin-inline-form" onSubmit={(e) => void save(e)}>
        <NumberField
          label={t('admin.retention.envelope')}
          testId="admin-retention-envelope-input"
          value={envelope}
          onChange={setEnvelope}
          min={MIN_DAYS}
          max={MAX_DAYS}
          step="any"
          placeholder={current ? t('admin.retention.default', { days: current.envelopeDefaultDays }) : ''}
        />
        <NumberField
          label={t('admin.retention.attachment')}
          testId="admin-retention-attachment-input"
          value={attachment}
          onChange={setAttachment}
          min={MIN_DAYS}
          max={MAX_DAYS}
          step="any"
          placeholder={current ? t('admin.retention.default', { days: current.attachmentDefaultDays }) : ''}
        />
        <button type="submit" className="primary" data-testid="admin-retention-save-button" disabled={busy}>
          {busy ? t('settings.working') : t('admin.retention.save')}
        </button>
      </form>
      <p className="muted">{t('admin.retention.hint')}</p>
      {saved ? (
        <p className="success" role="status" data-testid="admin-retention-saved">
          {t('admin.retention.saved')}
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

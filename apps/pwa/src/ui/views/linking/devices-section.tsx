/**
 * "Linked devices" in Settings: the account's devices, oldest first, each with its name (decrypted here), the day it
 * was linked and the day it was last active, this browser marked; on the primary device a Remove button for every
 * other device, behind a confirmation that says what happens, and "Link a new device" (link-device-dialog.tsx). On
 * a linked device it says that only the primary device links and removes devices. It reads through the settings view
 * model and keeps no state but what it shows.
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { DeviceView, RemoveDeviceResult } from '../../../app/model.js';
import { Modal } from '../../modal.js';
import { useApp, useLive } from '../../use-app.js';
import { LinkDeviceDialog } from './link-device-dialog.js';

/** How a day is written in the list: the date only (the server keeps last-active to the day for privacy). */
const DAY: Intl.DateTimeFormatOptions = { year: 'numeric', month: 'short', day: 'numeric' };

export function DevicesSection(): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  /** Bumped to read the list again after a link or a removal. */
  const [reload, setReload] = useState(0);
  const [linking, setLinking] = useState(false);
  const [removing, setRemoving] = useState<DeviceView | null>(null);
  const devices = useLive<DeviceView[] | null>(() => app.settings.devices().catch(() => null), [reload]);
  const primary = devices?.find((d) => d.current)?.primary ?? false;
  const day = (ms: number) => new Date(ms).toLocaleDateString(i18n.language, DAY);
  const nameOf = (d: DeviceView) => d.name ?? t('devices.unnamed', { id: d.deviceId });

  return (
    <div className="card" data-testid="devices-section">
      <h2 id="devices-title">{t('devices.title')}</h2>
      {devices === undefined ? (
        <p className="muted" aria-busy="true">
          {t('devices.loading')}
        </p>
      ) : devices === null ? (
        <p className="muted" data-testid="devices-unavailable">
          {t('devices.unavailable')}
        </p>
      ) : (
        <ul className="device-list" aria-labelledby="devices-title">
          {devices.map((d) => (
            <li
              key={d.deviceId}
              data-testid="device-item"
              data-device-id={d.deviceId}
              data-current={d.current || undefined}
            >
              <span className="device-text">
                <strong className="device-name">
                  {nameOf(d)}
                  {d.current ? (
                    <span className="device-badge" data-testid="device-current">
                      {t('devices.thisDevice')}
                    </span>
                  ) : null}
                  {d.primary ? <span className="device-badge subtle">{t('devices.primary')}</span> : null}
                </strong>
                <small className="muted">
                  {t('devices.linked', { day: day(d.createdAt) })} ·{' '}
                  {t('devices.lastActive', { day: day(d.lastActiveAt) })}
                </small>
              </span>
              {primary && !d.current && !d.primary ? (
                <button
                  type="button"
                  className="secondary small danger"
                  data-testid="device-remove-button"
                  aria-label={t('devices.removeLabel', { name: nameOf(d) })}
                  onClick={() => setRemoving(d)}
                >
                  {t('devices.remove')}
                </button>
              ) : null}
            </li>
          ))}
        </ul>
      )}
      {devices && !primary ? (
        <p className="muted" data-testid="devices-not-primary">
          {t('devices.notPrimary')}
        </p>
      ) : null}
      {devices && primary ? (
        <button type="button" className="secondary" data-testid="link-device-button" onClick={() => setLinking(true)}>
          {t('devices.link')}
        </button>
      ) : null}
      {linking ? (
        <LinkDeviceDialog
          onClose={() => {
            setLinking(false);
            setReload((n) => n + 1);
          }}
        />
      ) : null}
      {removing ? (
        <RemoveDeviceDialog
          device={removing}
          name={nameOf(removing)}
          onClose={(removed) => {
            setRemoving(null);
            if (removed) setReload((n) => n + 1);
          }}
        />
      ) : null}
    </div>
  );
}

function RemoveDeviceDialog({
  device,
  name,
  onClose,
}: {
  device: DeviceView;
  name: string;
  onClose: (removed: boolean) => void;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Extract<RemoveDeviceResult, { ok: false }>['error'] | null>(null);
  const confirm = async () => {
    setBusy(true);
    setError(null);
    const result = await app.settings.removeDevice(device.deviceId);
    setBusy(false);
    if (result.ok) onClose(true);
    else setError(result.error);
  };
  return (
    <Modal
      titleId="remove-device-title"
      title={t('devices.removeTitle', { name })}
      testId="device-remove-dialog"
      onClose={() => onClose(false)}
    >
      <p>{t('devices.removeText')}</p>
      {error ? (
        <p className="error" role="alert">
          {t(`devices.errors.${error}`)}
        </p>
      ) : null}
      <div className="dialog-actions">
        <button type="button" className="secondary" onClick={() => onClose(false)} disabled={busy}>
          {t('common.cancel')}
        </button>
        <button
          type="button"
          className="danger"
          data-testid="device-remove-confirm"
          disabled={busy}
          onClick={() => void confirm()}
        >
          {busy ? t('settings.working') : t('devices.remove')}
        </button>
      </div>
    </Modal>
  );
}

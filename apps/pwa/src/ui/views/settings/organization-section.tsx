/**
 * The organization in settings (docs/organizations.md): the organization key's fingerprint as this device pinned it
 * (to compare with an administrator's), the role this account's certificate proves, and a loud warning when the
 * server now presents a different key (roles under it are not believed), and for an admin or the owner (by a valid
 * certificate under the pinned key) the button into the admin console. Hidden when the server has no organization.
 * Display only: it reads through the settings and admin view models.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminAccess, OrganizationView } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';

export function OrganizationSection({ onAdmin }: { onAdmin?: (() => void) | undefined }): ReactElement | null {
  const { t } = useTranslation();
  const app = useApp();
  const organization = useLive<OrganizationView | null>(() => app.settings.organization().catch(() => null), []);
  const access = useLive<AdminAccess | null>(() => app.admin.access().catch(() => null), []);
  if (!organization) return null;
  return (
    <div className="card" data-testid="organization-section">
      <h2>{t('organization.title')}</h2>
      {organization.keyChanged ? (
        <p className="error" role="alert" data-testid="organization-key-changed">
          {t('organization.keyChanged', { fingerprint: organization.presentedFingerprint ?? '' })}
        </p>
      ) : null}
      <p className="muted">{t('organization.fingerprintHint')}</p>
      <p className="safety-digits" data-testid="organization-fingerprint">
        {organization.fingerprint}
      </p>
      <p data-testid="organization-role" data-role={organization.role}>
        {t(`organization.role.${organization.role}`)}
      </p>
      {access && onAdmin ? (
        <button type="button" className="secondary" data-testid="admin-console-button" onClick={onAdmin}>
          {t('admin.open')}
        </button>
      ) : null}
    </div>
  );
}

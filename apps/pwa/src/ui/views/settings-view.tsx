/**
 * Settings: the toolbar and the sections (`settings/`, `linking/`): account, profile, linked devices, language and colour theme, notification
 * previews and permission, persistent storage, the organization (with the admin console's entry for admins), the
 * passphrase that locks the local data and "lock now", the login password, the block list, and leaving (log out,
 * delete the account).
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconBack } from '../icons.js';
import {
  AccountSection,
  AppearanceSection,
  NotificationsSection,
  PrivacySection,
} from './settings/settings-sections.js';
import { DevicesSection } from './linking/devices-section.js';
import { BlockedSection } from './settings/blocked-section.js';
import { OrganizationSection } from './settings/organization-section.js';
import { LeaveSection } from './settings/leave-section.js';
import { PasswordSection } from './settings/password-section.js';
import { ProfileSection } from './settings/profile-section.js';

export function SettingsView({ onBack, onAdmin }: { onBack: () => void; onAdmin?: () => void }): ReactElement {
  const { t } = useTranslation();
  return (
    <section className="chat-pane settings-pane" aria-labelledby="settings-title">
      <header className="toolbar">
        <button type="button" className="icon-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <h1 id="settings-title" className="toolbar-heading">
          {t('settings.title')}
        </h1>
      </header>
      <div className="contact-body">
        <AccountSection />
        <ProfileSection />
        <DevicesSection />
        <AppearanceSection />
        <NotificationsSection />
        <PrivacySection />
        <OrganizationSection onAdmin={onAdmin} />
        <PasswordSection />
        <BlockedSection />
        <LeaveSection />
      </div>
    </section>
  );
}

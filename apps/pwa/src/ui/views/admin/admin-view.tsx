/**
 * The admin console (admins and the owner): members, invites, an organization notice, retention, the server status
 * and the audit log, one card each (the cards live beside this file). Shown only when this account's certificate
 * proves admin or owner under the pinned organization key; anyone else sees a refusal (the server refuses them too).
 * Display only: everything goes through the admin view model.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AdminAccess } from '../../../app/model.js';
import { IconBack } from '../../icons.js';
import { useApp, useLive } from '../../use-app.js';
import { AuditSection } from './audit-section.js';
import { InvitesSection } from './invites-section.js';
import { MembersSection } from './members-section.js';
import { NoticeSection } from './notice-section.js';
import { RetentionSection } from './retention-section.js';
import { StatusSection } from './status-section.js';

export function AdminView({ onBack }: { onBack: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const access = useLive<AdminAccess | null>(() => app.admin.access().catch(() => null), []);
  return (
    <section className="chat-pane settings-pane admin-pane" aria-labelledby="admin-title" data-testid="admin-console">
      <header className="toolbar">
        <button type="button" className="icon-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <h1 id="admin-title" className="toolbar-heading">
          {t('admin.title')}
        </h1>
      </header>
      <div className="contact-body admin-body">
        {access === undefined ? (
          <p className="muted" aria-busy="true">
            {t('admin.loading')}
          </p>
        ) : access === null ? (
          <p className="error" role="alert" data-testid="admin-denied">
            {t('admin.denied')}
          </p>
        ) : (
          <>
            <MembersSection access={access} />
            <InvitesSection />
            <NoticeSection />
            <RetentionSection />
            <StatusSection />
            <AuditSection />
          </>
        )}
      </div>
    </section>
  );
}

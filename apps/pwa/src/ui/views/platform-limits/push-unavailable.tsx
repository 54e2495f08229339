/**
 * What the notification rows show where push cannot work: on iOS outside a home-screen app, the reason and the
 * steps to install Cove there; in a browser without push (WebKitGTK, some privacy-hardened builds), a plain
 * sentence that messages still arrive while Cove is open. It decides nothing itself: the app state says which.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';

export function PushUnavailable({ push }: { push: 'needs-home-screen' | 'unsupported' }): ReactElement {
  const { t } = useTranslation();
  if (push === 'unsupported')
    return (
      <span data-testid="push-unavailable" data-reason="unsupported">
        <strong>{t('platformLimits.pushUnsupported')}</strong>
        <small className="muted">{t('platformLimits.pushUnsupportedHint')}</small>
      </span>
    );
  return (
    <span data-testid="push-unavailable" data-reason="needs-home-screen">
      <strong>{t('platformLimits.pushNeedsHomeScreen')}</strong>
      <InstallSteps />
    </span>
  );
}

/** The iOS Safari home-screen install flow, as in docs/ios.md. */
export function InstallSteps(): ReactElement {
  const { t } = useTranslation();
  return (
    <small className="muted" data-testid="install-steps">
      {t('platformLimits.installTitle')}:
      <ol>
        <li>{t('platformLimits.installShare')}</li>
        <li>{t('platformLimits.installAdd')}</li>
        <li>{t('platformLimits.installOpen')}</li>
      </ol>
    </small>
  );
}

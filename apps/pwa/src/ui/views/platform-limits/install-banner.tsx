/**
 * The iOS install banner: on an iPhone or iPad, while Cove runs in a Safari tab instead of from the home screen
 * (the app state's `push` is then `needs-home-screen`), it says why installing matters — Safari deletes the site's
 * data, and with it this device's keys and history, after seven days of browser use without a visit, and only the
 * home-screen app gets notifications — and shows the steps. "Not now" hides it until the next start. It decides
 * nothing itself and is not shown anywhere else (installed apps, other browsers).
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { useAppState } from '../../use-app.js';
import { InstallSteps } from './push-unavailable.js';

export function InstallBanner(): ReactElement | null {
  const { t } = useTranslation();
  const state = useAppState();
  const [dismissed, setDismissed] = useState(false);
  if (state.push !== 'needs-home-screen' || dismissed) return null;
  return (
    <aside className="install-banner" data-testid="install-banner" aria-labelledby="install-banner-title">
      <strong id="install-banner-title">{t('platformLimits.installBannerTitle')}</strong>
      <small>{t('platformLimits.installBannerWhy')}</small>
      <InstallSteps />
      <button type="button" className="secondary small" onClick={() => setDismissed(true)}>
        {t('platformLimits.installBannerLater')}
      </button>
    </aside>
  );
}

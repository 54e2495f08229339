/**
 * "This device was removed": shown when the account's primary device removed this browser (its connection was
 * closed with 4004, in this tab or the one holding the connection). Nothing more can be sent or received here; the
 * user can wipe this browser's copy of the account (keys, contacts, history), after which the app starts over, or
 * leave it for now and wipe later. Display only; the settings view model wipes.
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconAlert } from '../../icons.js';
import { useApp } from '../../use-app.js';

export function RemovedView(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [busy, setBusy] = useState(false);
  const [failed, setFailed] = useState(false);
  const wipe = async () => {
    setBusy(true);
    setFailed(false);
    try {
      // The page reloads into onboarding once the data is gone.
      await app.settings.wipeRemoved();
    } catch {
      setBusy(false);
      setFailed(true);
    }
  };
  return (
    <main className="onboarding">
      <div className="onboarding-card removed-card" data-testid="device-removed" role="alert">
        <span className="removed-icon" aria-hidden="true">
          <IconAlert />
        </span>
        <h1>{t('removed.title')}</h1>
        <p>{t('removed.text')}</p>
        <p className="muted">{t('removed.wipeText')}</p>
        {failed ? <p className="error">{t('removed.failed')}</p> : null}
        <button
          type="button"
          className="secondary danger wide"
          data-testid="wipe-device-button"
          disabled={busy}
          onClick={() => void wipe()}
        >
          {busy ? t('settings.working') : t('removed.wipe')}
        </button>
        <p className="fineprint muted">{t('removed.later')}</p>
      </div>
    </main>
  );
}

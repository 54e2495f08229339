/**
 * The block list in settings: the people blocked, most recently first, each with Unblock. It reads through the
 * settings view model (the core must have loaded) and keeps no state but what it shows.
 */
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { BlockedContact } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';

export function BlockedSection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [failed, setFailed] = useState(false);
  const blocked = useLive<BlockedContact[] | null>(() => app.settings.blocked().catch(() => null), []);
  return (
    <div className="card" data-testid="blocked-section">
      <h2 id="blocked-title">{t('blockList.title')}</h2>
      {blocked === undefined ? (
        <p className="muted" aria-busy="true">
          {t('blockList.loading')}
        </p>
      ) : blocked === null ? (
        <p className="muted">{t('blockList.unavailable')}</p>
      ) : blocked.length === 0 ? (
        <p className="muted" data-testid="blocked-empty">
          {t('blockList.empty')}
        </p>
      ) : (
        <ul className="blocked-list" aria-labelledby="blocked-title">
          {blocked.map((b) => (
            <li key={b.accountId} data-testid="blocked-item">
              <span className="blocked-name">{b.name}</span>
              <button
                type="button"
                className="small"
                data-testid="unblock-button"
                aria-label={t('blockList.unblockLabel', { name: b.name })}
                onClick={() => {
                  setFailed(false);
                  void app.settings.unblock(b.accountId).catch(() => setFailed(true));
                }}
              >
                {t('blockList.unblock')}
              </button>
            </li>
          ))}
        </ul>
      )}
      {failed ? (
        <p className="error" role="alert">
          {t('requests.failed')}
        </p>
      ) : null}
    </div>
  );
}

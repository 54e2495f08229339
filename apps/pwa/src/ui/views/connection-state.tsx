/**
 * The connection indicator shown above the conversation list and in the chat: "Offline", "Connecting…", "Can't
 * reach the server" (with "Retry now") or "signed out", from the app state's `connection`; nothing when online.
 * "Connecting…" appears only when an attempt takes longer than CONNECTING_GRACE_MS, so a normal start does not flash
 * it. Display only: what the states mean is decided in app/server-link.ts.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconAlert } from '../icons.js';
import { useApp, useAppState } from '../use-app.js';

/** A connection usually comes up within a second; say "Connecting…" only when it takes longer. */
const CONNECTING_GRACE_MS = 1_500;

export function ConnectionState(): ReactElement | null {
  const { t } = useTranslation();
  const app = useApp();
  const { connection } = useAppState();
  const [graceOver, setGraceOver] = useState(false);

  useEffect(() => {
    if (connection !== 'connecting') {
      setGraceOver(false);
      return;
    }
    const timer = setTimeout(() => setGraceOver(true), CONNECTING_GRACE_MS);
    return () => clearTimeout(timer);
  }, [connection]);

  if (connection === null || (connection === 'connecting' && !graceOver)) return null;
  const text = {
    offline: t('connection.offline'),
    connecting: t('connection.connecting'),
    unreachable: t('connection.unreachable'),
    'signed-out': t('connection.signedOut'),
  }[connection];
  return (
    <div
      className={`banner ${connection === 'signed-out' ? 'warn' : 'info'} connection-state`}
      role="status"
      data-testid="connection-state"
      data-state={connection}
    >
      {connection === 'connecting' ? <span className="spinner" aria-hidden="true" /> : <IconAlert />}
      <p>{text}</p>
      {connection === 'unreachable' ? (
        <button type="button" className="secondary small" onClick={() => app.reconnectNow()}>
          {t('connection.retry')}
        </button>
      ) : null}
    </div>
  );
}

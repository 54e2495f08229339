/**
 * React error boundaries and their fallbacks, at three levels so that one value the UI cannot render never blanks
 * the app: the root (a readable "something went wrong" screen with reload and a way to the settings), each pane
 * (the list, the chat/contact/settings side) and each row (one message, one conversation entry). A boundary resets
 * when its `resetKey` changes (another route or conversation), and logs only the error's name, never content.
 * It does not catch errors in event handlers or promises (those never unmount the tree).
 */
import { Component, type ErrorInfo, type ReactElement, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { IconAlert } from './icons.js';

type BoundaryProps = {
  /** What to show instead of the children after they threw while rendering. */
  fallback: (reset: () => void) => ReactNode;
  /** Any change of this value renders the children again (a new route, another conversation). */
  resetKey?: unknown;
  children?: ReactNode;
};

type BoundaryState = { failed: boolean; key: unknown };

export class ErrorBoundary extends Component<BoundaryProps, BoundaryState> {
  override state: BoundaryState = { failed: false, key: this.props.resetKey };

  static getDerivedStateFromError(): Partial<BoundaryState> {
    return { failed: true };
  }

  static getDerivedStateFromProps(props: BoundaryProps, state: BoundaryState): Partial<BoundaryState> | null {
    return props.resetKey === state.key ? null : { failed: false, key: props.resetKey };
  }

  override componentDidCatch(error: unknown, _info: ErrorInfo): void {
    // eslint-disable-next-line no-console -- the browser console is the only diagnostics sink; the name carries no data
    console.error('[cove:ui] a view failed to render', error instanceof Error ? error.name : typeof error);
  }

  private readonly reset = (): void => this.setState({ failed: false });

  override render(): ReactNode {
    return this.state.failed ? this.props.fallback(this.reset) : this.props.children;
  }
}

/** The whole-app fallback: what happened, a reload, and the settings (language, passphrase) still reachable. */
export function AppErrorScreen({ onSettings }: { onSettings?: () => void }): ReactElement {
  const { t } = useTranslation();
  return (
    <main className="onboarding" data-testid="app-error">
      <div className="onboarding-card" role="alert">
        <span className="lock-badge">
          <IconAlert />
        </span>
        <h1>{t('error.title')}</h1>
        <p className="muted">{t('error.text')}</p>
        <button
          type="button"
          className="primary wide"
          data-testid="app-error-reload"
          onClick={() => globalThis.location.reload()}
        >
          {t('error.reload')}
        </button>
        {onSettings ? (
          <button type="button" className="secondary wide" data-testid="app-error-settings" onClick={onSettings}>
            {t('error.settings')}
          </button>
        ) : null}
      </div>
    </main>
  );
}

/** A pane that failed: the rest of the app stays; the user can go back to the list or try again. */
export function PaneError({ onBack, onRetry }: { onBack?: () => void; onRetry: () => void }): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="empty-detail" role="alert" data-testid="pane-error">
      <IconAlert />
      <p className="muted">{t('error.pane')}</p>
      <button type="button" className="secondary small" onClick={onRetry}>
        {t('error.retry')}
      </button>
      {onBack ? (
        <button type="button" className="secondary small" onClick={onBack}>
          {t('error.back')}
        </button>
      ) : null}
    </div>
  );
}

/** One message that could not be rendered, in place of its bubble. */
export function MessageError(): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="bubble-row in">
      <div className="bubble undecryptable" data-testid="message-error">
        <p className="bubble-text">{t('chat.unshowable')}</p>
      </div>
    </div>
  );
}

/** One conversation entry that could not be rendered, in place of its row. */
export function ConversationError(): ReactElement {
  const { t } = useTranslation();
  return (
    <li className="conversation" data-testid="conversation-error">
      <span className="conversation-preview muted">{t('list.unshowable')}</span>
    </li>
  );
}

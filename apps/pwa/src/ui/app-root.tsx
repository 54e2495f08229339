/**
 * The application frame: chooses the screen for the app's phase (loading, locked, onboarding, ready, removed), routes
 * between the conversation list, a chat, a contact and settings through the URL path (so a notification can open
 * `/chat/<id>`), lays the list and the chat side by side on wide screens, and shows the offline and
 * "update ready" notices. Error boundaries at the root and around each pane keep a rendering failure local: the
 * root one shows a readable error screen with reload and the settings.
 */
import { lazy, Suspense, useCallback, useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { AppErrorScreen, ErrorBoundary, PaneError } from './error-boundary.js';
import { useApp, useAppState } from './use-app.js';
import { ChatView } from './views/chat-view.js';
import { ConversationList } from './views/conversation-list.js';
import { LockView } from './views/lock-view.js';

/*
 * Screens a start on the chat list does not show load as chunks of their own when first shown (precached by the
 * service worker like every other file, so they open offline too): onboarding and its welcome steps, settings, the
 * admin console, a contact's and a group's info, the new-chat and new-group dialogs, the removed-device screen.
 */
const OnboardingView = lazy(async () => ({ default: (await import('./views/onboarding-view.js')).OnboardingView }));
const WelcomeSteps = lazy(async () => ({ default: (await import('./views/onboarding-view.js')).WelcomeSteps }));
const SettingsView = lazy(async () => ({ default: (await import('./views/settings-view.js')).SettingsView }));
const AdminView = lazy(async () => ({ default: (await import('./views/admin/admin-view.js')).AdminView }));
const ContactView = lazy(async () => ({ default: (await import('./views/contact-view.js')).ContactView }));
const GroupInfoView = lazy(async () => ({ default: (await import('./views/group-info-view.js')).GroupInfoView }));
const NewChatDialog = lazy(async () => ({ default: (await import('./views/new-chat-dialog.js')).NewChatDialog }));
const NewGroupDialog = lazy(async () => ({ default: (await import('./views/new-group-dialog.js')).NewGroupDialog }));
const RemovedView = lazy(async () => ({ default: (await import('./views/linking/removed-view.js')).RemovedView }));

/** A chat route may name a message to scroll to (a search result); that stays out of the URL. */
type Route =
  | { name: 'list' }
  | { name: 'chat'; id: string; focus?: { messageId: string; nonce: number } }
  | { name: 'contact'; id: string }
  | { name: 'settings' }
  | { name: 'admin' };

export function parseRoute(path: string): Route {
  const chat = /^\/chat\/([^/]+)(\/contact)?\/?$/.exec(path);
  if (chat?.[1])
    return chat[2]
      ? { name: 'contact', id: decodeURIComponent(chat[1]) }
      : { name: 'chat', id: decodeURIComponent(chat[1]) };
  if (path === '/settings') return { name: 'settings' };
  if (path === '/admin') return { name: 'admin' };
  return { name: 'list' };
}

function routePath(route: Route): string {
  switch (route.name) {
    case 'list':
      return '/';
    case 'chat':
      return `/chat/${encodeURIComponent(route.id)}`;
    case 'contact':
      return `/chat/${encodeURIComponent(route.id)}/contact`;
    case 'settings':
      return '/settings';
    case 'admin':
      return '/admin';
  }
}

/** Opens the settings route from anywhere (the error screen), as a link would. */
function navigateToSettings(): void {
  if (globalThis.location.pathname !== '/settings') globalThis.history.pushState(null, '', '/settings');
  globalThis.dispatchEvent(new PopStateEvent('popstate'));
}

export function AppRoot(): ReactElement {
  return (
    <ErrorBoundary
      fallback={(reset) => (
        <AppErrorScreen
          onSettings={() => {
            navigateToSettings();
            reset();
          }}
        />
      )}
    >
      <AppFrame />
    </ErrorBoundary>
  );
}

function AppFrame(): ReactElement {
  const state = useAppState();
  const [failedSettings, setFailedSettings] = useState(false);
  const { t } = useTranslation();
  const [welcome, setWelcome] = useState(false);
  const [wasOnboarding, setWasOnboarding] = useState(false);

  useEffect(() => {
    if (state.phase.kind === 'onboarding') setWasOnboarding(true);
    if (state.phase.kind === 'ready' && wasOnboarding) {
      setWelcome(true);
      setWasOnboarding(false);
    }
  }, [state.phase.kind, wasOnboarding]);

  let body: ReactElement;
  switch (state.phase.kind) {
    case 'loading':
      body = (
        <main className="splash" aria-busy="true">
          <img src="/icons/icon-192.png" alt="" width={64} height={64} />
          <span className="visually-hidden">{t('app.loading')}</span>
        </main>
      );
      break;
    case 'locked':
      body = <LockView />;
      break;
    case 'onboarding':
      body = <OnboardingView info={state.phase.info} offline={state.phase.offline} sso={state.phase.sso} />;
      break;
    case 'ready':
      body = welcome ? <WelcomeSteps onDone={() => setWelcome(false)} /> : <MessengerScreen />;
      break;
    case 'removed':
      body = <RemovedView />;
      break;
    case 'failed':
      body = failedSettings ? (
        <SettingsView onBack={() => setFailedSettings(false)} />
      ) : (
        <AppErrorScreen onSettings={() => setFailedSettings(true)} />
      );
      break;
  }
  return (
    <>
      {/* A screen whose chunk is still loading shows nothing for those few milliseconds (it is precached). */}
      <Suspense fallback={null}>{body}</Suspense>
      {state.updateReady ? <UpdateToast /> : null}
      {state.deviceAdded ? <DeviceAddedToast deviceId={state.deviceAdded} /> : null}
    </>
  );
}

function MessengerScreen(): ReactElement {
  const [route, setRoute] = useState<Route>(() => parseRoute(globalThis.location.pathname));
  const [newChat, setNewChat] = useState(false);
  const [newGroup, setNewGroup] = useState(false);

  useEffect(() => {
    const onPop = () => setRoute(parseRoute(globalThis.location.pathname));
    globalThis.addEventListener('popstate', onPop);
    return () => globalThis.removeEventListener('popstate', onPop);
  }, []);

  const go = useCallback((next: Route, replace = false) => {
    const path = routePath(next);
    if (globalThis.location.pathname !== path) {
      if (replace) globalThis.history.replaceState(null, '', path);
      else globalThis.history.pushState(null, '', path);
    }
    setRoute(next);
  }, []);

  const { revision } = useAppState();
  const selected = route.name === 'chat' || route.name === 'contact' ? route.id : null;
  let detail: ReactElement | null = null;
  if (route.name === 'chat')
    detail = (
      // Keyed by conversation: opening another chat in the same pane starts a fresh view (history, reply and edit
      // targets, scroll position), never showing the previous chat's messages while the new one loads.
      <ChatView
        key={route.id}
        conversationId={route.id}
        focus={route.focus ?? null}
        onBack={() => go({ name: 'list' })}
        onContact={() => go({ name: 'contact', id: route.id })}
      />
    );
  else if (route.name === 'contact')
    // A group's "contact" screen is its info: members, roles and the admins' changes.
    detail = route.id.startsWith('group:') ? (
      <GroupInfoView conversationId={route.id} onBack={() => go({ name: 'chat', id: route.id })} />
    ) : (
      <ContactView conversationId={route.id} onBack={() => go({ name: 'chat', id: route.id })} />
    );
  else if (route.name === 'settings')
    detail = <SettingsView onBack={() => go({ name: 'list' })} onAdmin={() => go({ name: 'admin' })} />;
  else if (route.name === 'admin') detail = <AdminView onBack={() => go({ name: 'settings' })} />;

  return (
    <main className={`layout ${detail ? 'has-detail' : 'no-detail'}`}>
      <ErrorBoundary
        resetKey={revision}
        fallback={(reset) => (
          <section className="list-pane">
            <PaneError onRetry={reset} />
          </section>
        )}
      >
        <ConversationList
          selected={selected}
          onOpen={(id) => go({ name: 'chat', id })}
          onOpenMessage={(id, messageId) => go({ name: 'chat', id, focus: { messageId, nonce: Date.now() } })}
          onNewChat={() => setNewChat(true)}
          onNewGroup={() => setNewGroup(true)}
          onSettings={() => go({ name: 'settings' })}
        />
      </ErrorBoundary>
      <div className="detail-pane">
        <ErrorBoundary
          resetKey={routePath(route)}
          fallback={(reset) => <PaneError onRetry={reset} onBack={() => go({ name: 'list' })} />}
        >
          <Suspense fallback={null}>{detail ?? <EmptyDetail />}</Suspense>
        </ErrorBoundary>
      </div>
      <Suspense fallback={null}>
        {newChat ? (
          <NewChatDialog
            onClose={() => setNewChat(false)}
            onOpened={(id) => {
              setNewChat(false);
              go({ name: 'chat', id });
            }}
          />
        ) : null}
        {newGroup ? (
          <NewGroupDialog
            onClose={() => setNewGroup(false)}
            onOpened={(id) => {
              setNewGroup(false);
              go({ name: 'chat', id });
            }}
          />
        ) : null}
      </Suspense>
    </main>
  );
}

function EmptyDetail(): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="empty-detail">
      <img src="/icons/icon-192.png" alt="" width={88} height={88} />
      <p className="muted">{t('app.pick')}</p>
    </div>
  );
}

/** Another device joined the account: the user should know, and act if it was not them. */
function DeviceAddedToast({ deviceId }: { deviceId: number }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  return (
    <div className="toast" role="alert" data-testid="device-added-toast">
      <span>{t('app.deviceAdded', { id: deviceId })}</span>
      <button type="button" className="secondary small" onClick={() => app.dismissDeviceAdded()}>
        {t('app.dismiss')}
      </button>
    </div>
  );
}

function UpdateToast(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  return (
    <div className="toast" role="status" data-testid="update-toast">
      <span>{t('app.updateReady')}</span>
      <button type="button" className="primary small" onClick={() => app.applyUpdate()}>
        {t('app.reload')}
      </button>
    </div>
  );
}

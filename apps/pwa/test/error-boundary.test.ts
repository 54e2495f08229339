/**
 * Unit tests of the UI's error boundaries with the real views rendered by react-dom into happy-dom: a message, a
 * conversation entry or a pane that throws while rendering is replaced by a placeholder, and its neighbours and
 * the rest of the screen stay. The app model is a stub that hands the views values the view-data layer would
 * never produce, to force a rendering failure.
 */
import { afterEach, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { Window } from 'happy-dom';
import type { AppState, ChatMessage, ChatScreen, ConversationSummary, CoveApp, ListScreen } from '../src/app/model.js';

/** react-dom decides at load whether a DOM exists, so the globals come first and the UI modules after. */
const window = new Window({ url: 'http://localhost/' });
Object.assign(globalThis, {
  window,
  document: window.document,
  navigator: window.navigator,
  HTMLElement: window.HTMLElement,
  Node: window.Node,
  Event: window.Event,
  PopStateEvent: window.PopStateEvent,
  IS_REACT_ACT_ENVIRONMENT: true,
});

const { act, createElement } = await import('react');
const { createRoot } = await import('react-dom/client');
const { AppRoot } = await import('../src/ui/app-root.js');
const { ChatView } = await import('../src/ui/views/chat-view.js');
const { ConversationList } = await import('../src/ui/views/conversation-list.js');
const { initI18n } = await import('../src/ui/i18n/index.js');
const { AppContext } = await import('../src/ui/use-app.js');

const NOW = Date.UTC(2026, 10, 26, 12);

const baseState: AppState = {
  phase: { kind: 'ready', username: 'me' },
  online: true,
  server: 'online',
  connection: null,
  updateReady: false,
  revision: 0,
  typing: new Set(),
  settings: { language: 'en', previews: true },
  theme: 'system',
  progress: new Map(),
  passphraseSet: false,
  notifications: 'default',
  push: 'supported',
  persisted: true,
};

/** A stub app model: only what the views under test call. */
function stubApp(
  overrides: { state?: () => AppState; list?: Partial<ListScreen>; chat?: Partial<ChatScreen> } = {},
): CoveApp {
  const noop = () => Promise.resolve();
  return {
    getState: overrides.state ?? (() => baseState),
    subscribe: () => () => undefined,
    list: { conversations: () => Promise.resolve([]), ...overrides.list },
    chat: {
      conversation: () => Promise.resolve(undefined),
      messages: () => Promise.resolve([]),
      markRead: noop,
      setTyping: () => undefined,
      canModify: () => false,
      draft: () => Promise.resolve(''),
      saveDraft: noop,
      ...overrides.chat,
    },
  } as unknown as CoveApp;
}

/** Something React refuses to render as a child: an object where text belongs. */
const NOT_RENDERABLE = { evil: true } as unknown as string;

let container: HTMLElement;
let unmount: () => void = () => undefined;

async function render(app: CoveApp, element: ReturnType<typeof createElement>): Promise<void> {
  container = window.document.createElement('div') as unknown as HTMLElement;
  window.document.body.appendChild(container as never);
  const root = createRoot(container);
  await act(async () => {
    root.render(createElement(AppContext.Provider, { value: app }, element));
    await new Promise((resolve) => setTimeout(resolve, 20));
  });
  unmount = () => act(() => root.unmount());
}

const byTestId = (id: string) => [...container.querySelectorAll(`[data-testid="${id}"]`)];

beforeAll(async () => {
  await initI18n('en');
});

afterEach(() => {
  unmount();
  container.remove();
});

describe('error boundaries', () => {
  it('should replace only the message that fails to render, keeping the chat and its composer', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const message = (id: string, text: string): ChatMessage => ({
      kind: 'text',
      id,
      conversationId: 'c',
      outgoing: false,
      text,
      sentAt: NOW,
    });
    const app = stubApp({
      chat: {
        messages: () =>
          Promise.resolve([message('c/3', 'third'), message('c/2', NOT_RENDERABLE), message('c/1', 'first')]),
      },
    });
    await render(
      app,
      createElement(ChatView, { conversationId: 'c', onBack: () => undefined, onContact: () => undefined }),
    );
    const texts = byTestId('message').map((el) => el.textContent);
    expect(texts).toHaveLength(2);
    expect(texts[0]).toContain('first');
    expect(texts[1]).toContain('third');
    expect(byTestId('message-error')).toHaveLength(1);
    expect(byTestId('message-input')).toHaveLength(1);
    error.mockRestore();
  });

  it('should replace only the conversation entry that fails to render', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const summary = (id: string, title: string): ConversationSummary => ({
      id,
      title,
      unread: 0,
      updatedAt: NOW,
      identityChanged: false,
      verified: false,
    });
    const app = stubApp({
      list: {
        conversations: () =>
          Promise.resolve([summary('a', 'alice'), summary('b', NOT_RENDERABLE), summary('c', 'carol')]),
      },
    });
    await render(
      app,
      createElement(ConversationList, {
        selected: null,
        onOpen: () => undefined,
        onNewChat: () => undefined,
        onNewGroup: () => undefined,
        onSettings: () => undefined,
      }),
    );
    expect(byTestId('conversation-item').map((el) => el.getAttribute('data-conversation'))).toEqual(['alice', 'carol']);
    expect(byTestId('conversation-error')).toHaveLength(1);
    expect(byTestId('new-chat-button')).toHaveLength(1);
    error.mockRestore();
  });

  it('should show the readable error screen, with reload and settings, when the whole app fails to render', async () => {
    const error = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let calls = 0;
    const app = stubApp({
      state: () => {
        calls += 1;
        if (calls > 0) throw new RangeError('Invalid time value');
        return baseState;
      },
    });
    await render(app, createElement(AppRoot));
    expect(byTestId('app-error')).toHaveLength(1);
    expect(byTestId('app-error-reload')).toHaveLength(1);
    expect(byTestId('app-error-settings')).toHaveLength(1);
    expect(container.textContent).toContain('Something went wrong');
    error.mockRestore();
  });
});

/**
 * The engine driver for WebKitGTK: Debian's WebKitWebDriver (W3C WebDriver classic over HTTP) starting MiniBrowser
 * in automation mode on an Xvfb display of its own. The WebDriver client is the few commands the interface needs,
 * written here over `fetch`; every command of a tab first switches to that tab's window, under one queue per
 * session so two tabs never interleave. WebDriver classic cannot emulate a network loss, so `offline` says so.
 * The automation session keeps its website data in memory: it survives reloads and is shared by the session's
 * tabs, and goes when the profile closes (a fresh profile each launch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';

import {
  WAIT_TIMEOUT_MS,
  type EngineDriver,
  type EngineProfile,
  type EngineTab,
  type PageFunction,
} from './engine-driver.js';

const DRIVER = '/usr/bin/WebKitWebDriver';
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';
/** WebDriver's key code for Enter. */
const ENTER = '\uE007';
/** Characters WebKitWebDriver's key input drops or mangles: emoji and anything else beyond Latin-1 (CJK too), and control characters. */
const UNTYPABLE = /[^ -\u00FF]/u;
/** How long WebKitWebDriver may take to listen after it starts. */
const DRIVER_START_MS = 20_000;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/** Starts Xvfb on a display it picks itself (`-displayfd`) and resolves with that display, e.g. ':42'. */
async function startXvfb(): Promise<{ display: string; process: ChildProcess }> {
  const xvfb = spawn('Xvfb', ['-displayfd', '3', '-screen', '0', '1280x800x24', '-nolisten', 'tcp'], {
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const display = await new Promise<string>((resolve, reject) => {
    let out = '';
    const pipe = xvfb.stdio[3] as NodeJS.ReadableStream;
    pipe.setEncoding('utf8');
    pipe.on('data', (chunk: string) => {
      out += chunk;
      if (out.includes('\n')) resolve(`:${out.trim()}`);
    });
    xvfb.once('exit', (code) => reject(new Error(`Xvfb exited with ${code}`)));
  });
  return { display, process: xvfb };
}

type Json = Record<string, unknown>;

class WebDriverSession {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly base: string,
    readonly id: string,
  ) {}

  static async create(base: string, capabilities: Json): Promise<WebDriverSession> {
    const value = (await command(base, 'POST', '/session', { capabilities: { alwaysMatch: capabilities } })) as Json;
    return new WebDriverSession(base, String(value.sessionId));
  }

  send(method: string, path: string, body?: Json): Promise<unknown> {
    return command(this.base, method, `/session/${this.id}${path}`, body);
  }

  /** Runs `work` in `handle`'s window, after every earlier queued command. */
  inWindow<T>(handle: string, work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(async () => {
      await this.send('POST', '/window', { handle });
      return work();
    });
    this.queue = run.catch(() => undefined);
    return run;
  }
}

async function command(base: string, method: string, path: string, body?: Json): Promise<unknown> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: method === 'GET' || method === 'DELETE' ? undefined : JSON.stringify(body ?? {}),
  });
  const json = (await response.json()) as { value: unknown };
  if (!response.ok) {
    const error = json.value as { error?: string; message?: string };
    throw new Error(`WebDriver ${method} ${path}: ${error.error ?? response.status} ${error.message ?? ''}`);
  }
  return json.value;
}

function tabOf(session: WebDriverSession, handle: string): EngineTab {
  const inTab = <T>(work: () => Promise<T>) => session.inWindow(handle, work);
  /** Finds the first element matching `selector`, waiting for it like the other engines' drivers do. */
  const find = async (selector: string): Promise<string> => {
    const deadline = Date.now() + WAIT_TIMEOUT_MS;
    for (;;) {
      try {
        const found = (await inTab(() =>
          session.send('POST', '/element', { using: 'css selector', value: selector }),
        )) as Json;
        return String(found[ELEMENT]);
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  };
  return {
    goto: async (url) => {
      await inTab(() => session.send('POST', '/url', { url }));
    },
    reload: async () => {
      await inTab(() => session.send('POST', '/refresh'));
    },
    url: async () => String(await inTab(() => session.send('GET', '/url'))),
    click: async (selector) => {
      const element = await find(selector);
      await inTab(() => session.send('POST', `/element/${element}/click`));
    },
    fill: async (selector, text) => {
      const element = await find(selector);
      await inTab(async () => {
        await session.send('POST', `/element/${element}/clear`);
        if (!text) return;
        if (!UNTYPABLE.test(text)) {
          await session.send('POST', `/element/${element}/value`, { text });
          return;
        }
        // WebKitWebDriver drops emoji when it types; the editing command inserts such text through the same input
        // events a keyboard's text input (an input method) fires.
        await session.send('POST', '/execute/sync', {
          script: `const [el, t] = arguments; el.focus(); document.execCommand('insertText', false, t);`,
          args: [{ [ELEMENT]: element }, text],
        });
      });
    },
    upload: async (selector, path) => {
      // WebDriver's Element Send Keys on a file input chooses the files whose paths are sent.
      const element = await find(selector);
      await inTab(() => session.send('POST', `/element/${element}/value`, { text: path }));
    },
    pressEnter: async (selector) => {
      const element = await find(selector);
      await inTab(() => session.send('POST', `/element/${element}/value`, { text: ENTER }));
    },
    evaluate: async <A extends unknown[], R>(fn: PageFunction<A, R>, ...args: A): Promise<R> => {
      const script = `const done = arguments[arguments.length - 1];
        Promise.resolve().then(() => (${fn.toString()})(...arguments[0]))
          .then((value) => done({ value }), (error) => done({ error: String(error) }));`;
      const result = (await inTab(() => session.send('POST', '/execute/async', { script, args: [args] }))) as {
        value?: R;
        error?: string;
      };
      if (result.error !== undefined) throw new Error(result.error);
      return result.value as R;
    },
    screenshot: async (path) => {
      const data = String(await inTab(() => session.send('GET', '/screenshot')));
      writeFileSync(path, Buffer.from(data, 'base64'));
    },
    close: async () => {
      await inTab(() => session.send('DELETE', '/window'));
    },
  };
}

export const webkitDriver: EngineDriver = {
  engine: 'webkit',
  async launch(name, options = {}): Promise<EngineProfile> {
    const xvfb = await startXvfb();
    const port = await freePort();
    const driver = spawn(DRIVER, [`--port=${port}`, '--host=127.0.0.1'], {
      stdio: 'ignore',
      env: {
        ...process.env,
        DISPLAY: xvfb.display,
        ...(options.locale ? { LANGUAGE: options.locale.replace('-', '_') } : {}),
      },
    });
    const base = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + DRIVER_START_MS;
    for (;;) {
      try {
        await command(base, 'GET', '/status');
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const session = await WebDriverSession.create(base, {
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': {
        binary: MINIBROWSER,
        args: [
          '--automation',
          '--geometry=1100x760',
          // WebKit's mock microphone (a generated tone), granted without a prompt in automation, for voice notes.
          '--enable-media-stream=true',
          '--enable-mock-capture-devices=true',
        ],
      },
      timeouts: { script: WAIT_TIMEOUT_MS, pageLoad: WAIT_TIMEOUT_MS },
    });
    const first = String(await session.send('GET', '/window'));
    return {
      engine: 'webkit',
      name,
      tab: tabOf(session, first),
      async newTab(url) {
        const created = (await session.send('POST', '/window/new', { type: 'tab' })) as Json;
        const tab = tabOf(session, String(created.handle));
        await tab.goto(url);
        return tab;
      },
      offline: { unsupported: 'WebDriver classic has no command to take WebKitGTK offline' },
      async close() {
        await session.send('DELETE', '').catch(() => undefined);
        driver.kill('SIGTERM');
        xvfb.process.kill('SIGTERM');
      },
    };
  },
};

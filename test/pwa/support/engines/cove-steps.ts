/**
 * Cove's user steps written once over the engine driver: register, start or open a chat, send, wait for a message
 * (and its status), read the safety number, set and enter a passphrase, switch the language. Each waits for the
 * screen it leads to; none asserts beyond that.
 */
import { byTestId, selectOption, waitForGone, waitForSelector, waitUntil, type EngineTab } from './engine-driver.js';

/**
 * Taps "Create account" again after "Can't reach the server", as a user would: with several browser suites on two
 * cores, the first connection can miss its deadline. Any other error, or a third miss, fails the step.
 */
const REGISTER_ATTEMPTS = 3;

export async function register(tab: EngineTab, username: string): Promise<void> {
  await waitForSelector(tab, byTestId('username-input'));
  await tab.fill(byTestId('username-input'), username);
  for (let attempt = 1; ; attempt++) {
    await tab.click(byTestId('register-button'));
    const outcome = await waitUntil(tab, 'the welcome screen or an error', () =>
      document.querySelector('[data-testid="welcome-done"]')
        ? 'welcome'
        : (document.querySelector('.onboarding [role="alert"]')?.textContent ?? null),
    );
    if (outcome === 'welcome') break;
    if (!outcome.includes("Can't reach the server") || attempt >= REGISTER_ATTEMPTS)
      throw new Error(`registration failed: ${outcome}`);
  }
  await tab.click(byTestId('welcome-done'));
  await waitForSelector(tab, byTestId('new-chat-button'));
}

export async function startChat(tab: EngineTab, username: string): Promise<void> {
  await waitForSelector(tab, byTestId('new-chat-button'));
  await tab.click(byTestId('new-chat-button'));
  await waitForSelector(tab, byTestId('new-chat-username-input'));
  await tab.fill(byTestId('new-chat-username-input'), username);
  await tab.click(byTestId('new-chat-start-button'));
  await waitForSelector(tab, byTestId('message-input'));
}

export async function openChat(tab: EngineTab, title: string): Promise<void> {
  const item = byTestId('conversation-item', `[data-conversation="${title}"]`);
  await waitForSelector(tab, item);
  await tab.click(item);
  await waitForSelector(tab, byTestId('message-input'));
}

export async function send(tab: EngineTab, text: string): Promise<void> {
  await tab.fill(byTestId('message-input'), text);
  await tab.click(byTestId('send-button'));
}

/** Message statuses in the order a sent message goes through them. */
const STATUS_ORDER = ['pending', 'sent', 'delivered', 'read'];

/**
 * Waits for the bubble whose text is exactly `text` and, if `status` is given, whose `data-status` has reached it
 * (a message waited for as "sent" may already be "delivered" when it is first seen).
 */
export async function waitForMessage(tab: EngineTab, text: string, status?: string): Promise<void> {
  const accepted = status ? STATUS_ORDER.slice(STATUS_ORDER.indexOf(status)) : null;
  await waitUntil(
    tab,
    `message "${text}"${status ? ` ${status}` : ''}`,
    (t: string, ok: string[] | null) =>
      [...document.querySelectorAll('[data-testid="message"]')].some(
        (el) =>
          el.querySelector('.bubble-text')?.textContent === t &&
          (ok === null || ok.includes(el.getAttribute('data-status') ?? '')),
      ),
    text,
    accepted,
  );
}

export function undecryptableCount(tab: EngineTab): Promise<number> {
  return tab.evaluate(() => document.querySelectorAll('.bubble.undecryptable').length);
}

/** Opens the contact screen from the open chat and returns the 60-digit safety number. */
export async function safetyNumber(tab: EngineTab): Promise<string> {
  await tab.click('.chat-peer');
  return waitUntil(tab, 'a safety number', () => {
    const text = document.querySelector('[data-testid="safety-number"]')?.textContent ?? '';
    return /^\d{60}$/.test(text) ? text : null;
  });
}

export async function setPassphrase(tab: EngineTab, origin: string, passphrase: string): Promise<void> {
  await tab.goto(`${origin}/settings`);
  await waitForSelector(tab, byTestId('passphrase-input'));
  await tab.fill(byTestId('passphrase-input'), passphrase);
  await tab.fill(byTestId('passphrase-confirm-input'), passphrase);
  await tab.click(byTestId('passphrase-submit'));
  await waitForSelector(tab, 'body', 'Passphrase set.');
}

export async function unlock(tab: EngineTab, passphrase: string): Promise<void> {
  await waitForSelector(tab, byTestId('unlock-input'));
  await tab.fill(byTestId('unlock-input'), passphrase);
  await tab.click(byTestId('unlock-button'));
}

export async function setLanguage(tab: EngineTab, origin: string, language: string): Promise<void> {
  await tab.goto(`${origin}/settings`);
  await selectOption(tab, byTestId('language-select'), language);
}

/** Chooses the image at `path` in the open chat, captions it, and sends it from the preview sheet. */
export async function sendPhoto(tab: EngineTab, path: string, caption: string): Promise<void> {
  await tab.upload(byTestId('attachment-input'), path);
  await waitForSelector(tab, byTestId('attachment-preview'));
  await tab.fill(byTestId('attachment-caption'), caption);
  await tab.click(byTestId('attachment-send'));
  await waitForGone(tab, byTestId('attachment-preview'));
}

/** Records a voice note of about `seconds` from the microphone in the open chat (tap, wait, tap again to send). */
export async function recordVoiceNote(tab: EngineTab, seconds: number): Promise<void> {
  await tab.click(byTestId('voice-record-button'));
  await waitForSelector(tab, byTestId('voice-recording-time'), `0:${String(seconds).padStart(2, '0')}`);
  await tab.click(byTestId('voice-record-button'));
  await waitForGone(tab, byTestId('voice-recording'));
}

/** The natural size of the newest received-or-sent photo in the open chat, once it has decoded. */
export function shownPhotoSize(tab: EngineTab, caption: string): Promise<string> {
  return waitUntil(
    tab,
    `the photo "${caption}" decoded`,
    (c: string) => {
      for (const el of document.querySelectorAll('[data-testid="message"][data-kind="image"]')) {
        if (el.querySelector('.bubble-text')?.textContent !== c) continue;
        const img = el.querySelector<HTMLImageElement>('img[data-testid="attachment-image"]');
        if (img?.complete && img.naturalWidth > 0) return `${img.naturalWidth}x${img.naturalHeight}`;
      }
      return null;
    },
    caption,
  );
}

/**
 * Plays the received voice note in the open chat and waits until its audio has played past 0.3 s (or to its end);
 * returns the duration the player shows, in milliseconds.
 */
export async function playReceivedVoiceNote(tab: EngineTab): Promise<number> {
  const note = '[data-testid="message"][data-kind="voice"][data-direction="in"]';
  await waitForSelector(tab, `${note} [data-testid="voice-play"]:not([disabled])`);
  const duration = await waitUntil(
    tab,
    'the voice note duration',
    (s: string) => document.querySelector(`${s} [data-testid="voice-player"]`)?.getAttribute('data-duration-ms'),
    note,
  );
  await tab.click(`${note} [data-testid="voice-play"]`);
  await waitUntil(
    tab,
    'the voice note playing',
    (s: string) => {
      const audio = document.querySelector<HTMLAudioElement>(`${s} audio`);
      return audio !== null && (audio.ended || audio.currentTime > 0.3);
    },
    note,
  );
  return Number(duration);
}

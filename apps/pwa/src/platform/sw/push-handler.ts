/**
 * What the service worker does on a push: open the same encrypted stores as the page, let the messenger core fetch,
 * decrypt, store and acknowledge the pending envelopes (under the same Web Locks the pages use), and ALWAYS show a
 * notification: sender and text per conversation (a photo, voice note or file without a caption as "Photo", "Voice
 * message" or its name), "Message request" alone for a message from someone not accepted yet, or "New message"
 * when previews are off, the vault is locked, or
 * anything failed. A tap opens the conversation. It does not keep a connection open.
 *
 * Muted conversations (chat preferences, read from the same sealed storage) make no notification. When everything
 * that arrived is muted, none is shown at all: Chrome may then, after several such pushes with no Cove tab visible,
 * show its own "updated in the background" notice, a price paid for honouring the mute rather than showing one.
 */
import { openBrowserPlatform } from '../browser-platform.js';
import { openCoveDatabase } from '../idb/database.js';
import { isMuted, readChatPreferences } from '@cove/client/chat-preferences';
import { readSettings } from '../settings.js';
import { VaultLockedError } from '../vault.js';
import { notificationBody, notificationStrings, notificationTitle } from './notification-text.js';
import { receivePending, type ReceivedMessage } from './receive-pending.js';

/** One notification per conversation, replaced as more messages arrive. */
const TAG_PREFIX = 'cove:conversation:';
/** The tag of the content-free notification. */
const GENERIC_TAG = 'cove:new-message';
/**
 * If fetching and decrypting takes longer than this (a slow network, a busy device), a generic notification goes
 * up meanwhile: the browser requires one, and the user should not wait. Processing continues behind it.
 */
const PATIENCE_MS = 15_000;
/** Longest preview shown, in characters. */
const PREVIEW_CHARS = 140;
/** ECMAScript dates cover ±8.64e15 ms (ECMA-262 §21.4.1.22); a notification timestamp outside is left out. */
const MAX_DATE_MS = 8.64e15;

/** The sender's timestamp when it names a real moment; a hostile value must not make the notification fail. */
const notificationTime = (value: unknown): { timestamp?: number } =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_DATE_MS ? { timestamp: value } : {};

export type NotificationData = { conversationId: string | null };

type Shower = (title: string, options: NotificationOptions & { data: NotificationData }) => Promise<void>;

export async function handlePush(show: Shower, languages: readonly string[]): Promise<void> {
  let strings = notificationStrings(null, languages);
  const generic = (body = strings.newMessageBody) =>
    show(strings.newMessage, {
      body,
      tag: GENERIC_TAG,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { conversationId: null },
    });
  // The patience timer runs from the push's arrival: opening the database or the vault can wait too (a tab holding
  // a lock, an upgrade in progress), and the notification must not wait with it.
  const patience = setTimeout(() => void generic().catch(() => undefined), PATIENCE_MS);
  const stopPatience = () => clearTimeout(patience);
  try {
    const db = await openCoveDatabase();
    const settings = await readSettings(db);
    strings = notificationStrings(settings.language, languages);
    const platform = await openBrowserPlatform('worker', db);
    if ('locked' in platform) {
      stopPatience();
      return await generic(strings.lockedBody);
    }
    let received: ReceivedMessage[];
    let muted: (conversationId: string) => boolean;
    try {
      received = await receivePending(platform);
      const preferences = await readChatPreferences(platform.storage);
      const now = Date.now();
      muted = (conversationId) => {
        const p = preferences.get(conversationId);
        return p !== undefined && isMuted(p, now);
      };
    } catch (error) {
      platform.logger.warn('push processing failed', { error: error instanceof Error ? error.name : 'unknown' });
      throw error;
    } finally {
      stopPatience();
      await platform.storage.close();
    }
    if (received.length === 0) return await generic();
    received = received.filter((m) => !muted(m.conversationId));
    if (received.length === 0) return;
    if (received.every((m) => m.undecryptable)) return await generic();
    const byConversation = new Map<string, ReceivedMessage[]>();
    for (const m of received)
      byConversation.set(m.conversationId, [...(byConversation.get(m.conversationId) ?? []), m]);
    for (const [conversationId, messages] of byConversation) {
      const readable = messages.filter((m) => !m.undecryptable);
      const last = readable[readable.length - 1] ?? messages[messages.length - 1];
      if (!last) continue;
      const options = {
        tag: TAG_PREFIX + conversationId,
        icon: '/icons/icon-192.png',
        badge: '/icons/icon-192.png',
        ...notificationTime(last.timestamp),
        data: { conversationId },
      };
      if (messages.some((m) => m.request)) {
        // A stranger's message: neither their name nor their text, whatever the preview setting.
        await show(strings.request, { ...options, body: strings.newMessageBody });
      } else if (settings.previews) {
        const body = messages
          .map((m) => notificationBody(m, strings))
          .map((text) => (text.length > PREVIEW_CHARS ? `${text.slice(0, PREVIEW_CHARS)}…` : text))
          .join('\n');
        await show(notificationTitle(last.sender, last.group, strings), { ...options, body });
      } else {
        await show(strings.newMessage, { ...options, body: strings.newMessageBody });
      }
    }
  } catch (error) {
    stopPatience();
    // A passphrase set by a tab while this push was handled locks the vault for the worker too.
    await generic(error instanceof VaultLockedError ? strings.lockedBody : undefined);
  }
}

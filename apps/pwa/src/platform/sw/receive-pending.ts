/**
 * Runs the messenger core's receive pipeline once from the service worker: fetch the pending envelopes over HTTP,
 * decrypt, store and acknowledge each (the core takes the same per-peer Web Locks as the pages, so a tab and the
 * worker never decrypt for one peer at once), send the delivery receipts, and report what arrived so the worker
 * can show it, and delete the disappearing messages that expired meanwhile. It keeps no connection open.
 */
import { Messenger, type ContactEntry, type GroupEntry, type MessageEntry } from '@cove/client';
import type { BrowserPlatform } from '../browser-platform.js';

export type ReceivedMessage = {
  conversationId: string;
  sender: string;
  /** A group message: the group's name (the notification says "Ann in Team"); null for a direct one. */
  group: string | null;
  text: string;
  timestamp: number;
  undecryptable: boolean;
  /** What the first attachment is (photo, voice note, file), for the notification; null for a text message. */
  attachment: { kind: 'image' | 'voice' | 'file'; fileName: string | null } | null;
};

/** Group conversation ids: `group:<id>` (the core's tables.ts). */
const GROUP_PREFIX = 'group:';

/** Photos the chat shows as photos (the rest are files), as the app's view data decides. */
const PHOTO_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);

const attachmentOf = (message: MessageEntry): ReceivedMessage['attachment'] => {
  const first = message.attachments?.[0];
  if (!first) return null;
  const type = typeof first.contentType === 'string' ? first.contentType.split(';')[0]?.trim().toLowerCase() : '';
  const kind = first.voiceNote ? 'voice' : PHOTO_TYPES.has(type ?? '') ? 'image' : 'file';
  return { kind, fileName: typeof first.fileName === 'string' ? first.fileName : null };
};

export async function receivePending(platform: BrowserPlatform): Promise<ReceivedMessage[]> {
  // The server is the origin that served this worker, whatever URL the account was stored with (see MessengerOptions).
  const messenger = await Messenger.open(platform, { serverUrl: self.location.origin });
  if (!messenger.isRegistered) return [];
  const arrived: MessageEntry[] = [];
  const unsubscribe = messenger.subscribe((event) => {
    // A group's system lines ("Ann added Ben") are history, not messages to be notified of.
    if (event.type === 'message-added' && event.message.direction === 'incoming' && !event.message.system)
      arrived.push(event.message);
  });
  try {
    await messenger.fetchPending();
    await messenger.flushOutbox().catch(() => undefined);
    // Each wake-up also deletes disappearing messages whose timer ran out while no tab was open.
    await messenger.sweepExpired().catch(() => undefined);
  } finally {
    unsubscribe();
    await messenger.close();
  }
  const received: ReceivedMessage[] = [];
  for (const message of arrived) {
    const contact = await platform.storage.get<ContactEntry>('contacts', message.authorAccountId);
    const group = message.conversationId.startsWith(GROUP_PREFIX)
      ? await platform.storage.get<GroupEntry>('groups', message.conversationId.slice(GROUP_PREFIX.length))
      : undefined;
    const member = group?.members.find((m) => m.accountId === message.authorAccountId);
    received.push({
      conversationId: message.conversationId,
      sender: contact?.username ?? member?.username ?? message.authorAccountId.slice(0, 8),
      group: group ? group.title : null,
      text: message.text,
      timestamp: message.timestamp,
      undecryptable: message.status === 'undecryptable',
      attachment: attachmentOf(message),
    });
  }
  return received;
}

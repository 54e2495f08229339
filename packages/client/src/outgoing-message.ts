/**
 * Storing an outgoing data message: its history entry (status `sending`), the conversation's summary and its outbox
 * entry, committed in ONE batch under the peer's lock, then the events. Text and attachment sends share it. It does
 * not encode content (the caller passes the encoded data message) and does not send: the outbox delivers. Sending to
 * a blocked peer is refused (`blocked`); writing in a message request accepts it. A composer's send also removes the
 * conversation's draft in that commit.
 */
import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { deleteDraftOp } from './drafts.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { heldReadReceipts } from './requests.js';
import { newConversation, putConversation, putMessage } from './history.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { WriteOp } from './platform.js';
import type {
  AttachmentEntry,
  ContactEntry,
  ConversationEntry,
  GroupChange,
  MessageEntry,
  PendingUpload,
  QuoteEntry,
} from './tables.js';
import { directConversationId } from './tables.js';

export type OutgoingMessage = {
  timestamp: number;
  text: string;
  quote: QuoteEntry | null;
  expireTimerSeconds: number | null;
  /** The encoded data message the outbox encrypts and sends. */
  content: Uint8Array;
  attachments?: AttachmentEntry[];
  /** Uploads the outbox finishes before it sends (attachments). */
  uploads?: PendingUpload[];
  /** A change to the peer's contact row committed with the message (our profile key recorded as shared). */
  contactUpdate?: (contact: ContactEntry) => ContactEntry;
  /** A timer update: the system line stored for it, and the conversation's new timer (committed with it). */
  timerChange?: { system: GroupChange; seconds: number | null };
  /**
   * The conversation's draft was this message (a composer's send): removed in the same commit, so that neither a
   * second commit nor the reloads it would set off run ahead of the send, and a crash keeps both or neither.
   */
  clearDraft?: boolean;
};

/**
 * Stores `outgoing`, or what `compose` makes: called under the peer's lock at the same moment as this function's own
 * reads, so that the reads it needs (the profile key to share, the conversation's timer) share their storage round
 * trip (on a browser, one IndexedDB transaction) instead of preceding it, and see the state the commit builds on.
 */
export const storeOutgoingMessage = async (
  ctx: MessengerContext,
  accountId: string,
  compose: OutgoingMessage | (() => Promise<OutgoingMessage>),
): Promise<MessageEntry> => {
  const { message, conversation } = await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const { storage, clock } = ctx.platform;
    // Independent reads at once (on a browser they share one IndexedDB transaction).
    const [contact, existing, outgoing] = await Promise.all([
      storage.get('contacts', accountId),
      ctx.history.conversation(directConversationId(accountId)),
      typeof compose === 'function' ? compose() : compose,
    ]);
    if (contact?.blockedAt !== undefined)
      throw new ClientError(ClientErrorCode.Blocked, 'this contact is blocked: unblock them to send');
    // Writing to someone makes them a contact: a request the user answers by writing is accepted (requests.ts).
    const { request, ...base } = existing ?? newConversation(accountId, contact?.username ?? null, clock.now());
    const held = request === true ? await heldReadReceipts(ctx, accountId) : [];
    const stored: MessageEntry = {
      id: `${base.id}/${ctx.sequencer.next()}`,
      conversationId: base.id,
      direction: 'outgoing',
      authorAccountId: ctx.account.accountId,
      authorDeviceId: ctx.account.deviceId,
      timestamp: outgoing.timestamp,
      serverTimestamp: null,
      storedAt: clock.now(),
      text: outgoing.text,
      quote: outgoing.quote,
      expireTimerSeconds: outgoing.expireTimerSeconds,
      status: 'sending',
      read: true,
      error: null,
      ...(outgoing.attachments ? { attachments: outgoing.attachments } : {}),
      ...(outgoing.timerChange ? { system: outgoing.timerChange.system } : {}),
    };
    const updated: ConversationEntry = {
      ...base,
      ...(outgoing.timerChange ? { expireTimerSeconds: outgoing.timerChange.seconds } : {}),
      lastMessageAt: Math.max(base.lastMessageAt, stored.storedAt),
      lastMessageKey: stored.id,
    };
    const entry = {
      ...newOutboxEntry(ctx, {
        destination: accountId,
        kind: 'data',
        timestamp: outgoing.timestamp,
        content: outgoing.content,
        messageKey: stored.id,
      }),
      ...(outgoing.uploads ? { uploads: outgoing.uploads } : {}),
    };
    const contactWrites: WriteOp[] = outgoing.contactUpdate
      ? [
          {
            op: 'put',
            table: 'contacts',
            key: accountId,
            value: outgoing.contactUpdate(
              contact ?? { accountId, username: null, devices: null, updatedAt: clock.now() },
            ),
          },
        ]
      : [];
    await storage.commit([
      ...putMessage(stored),
      putConversation(updated),
      putOutboxEntry(entry),
      ...held,
      ...contactWrites,
      ...(outgoing.clearDraft === true ? [deleteDraftOp(base.id)] : []),
    ]);
    return { message: stored, conversation: updated };
  });
  emit(ctx, { type: 'message-added', message });
  emit(ctx, { type: 'conversation-updated', conversation });
  return message;
};

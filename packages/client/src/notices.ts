/**
 * Organization notices (docs/organizations.md): an administrator's announcement, end-to-end encrypted to every member
 * as ONE multi-recipient send under this device's organization-notice sender key (one outbox entry, delivered by
 * group-sender.ts: the key distributed pairwise to member devices lacking it, the notice encrypted once and marked for
 * the server as a notice, which it accepts from administrators only) and carrying the sender's role certificate. A
 * notice re-sent on a retry request goes pairwise, like any group message. Receivers show it in the read-only
 * `notices` conversation only when that certificate proves admin or owner under the organization key they pinned
 * and names the sending account; anything else is dropped, whatever the server let through. The sender's other
 * devices get the notice as a sent transcript and hold it to the same check (the certificate must prove admin or owner
 * for our own account under their pin). This module builds and stores the sent notice and judges received ones; the
 * inbox commits, the outbox sends.
 */
import { MAX_TEXT_BYTES, encodeContent, type OrganizationNotice } from '@cove/protocol';

import { dataContent, encodeDataMessage } from './content-builder.js';
import type { MessengerContext } from './context.js';
import { emit } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { putConversation, putMessage } from './history.js';
import { readMeta } from './meta.js';
import type { Organization } from './organization.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { ConversationEntry, MessageEntry } from './tables.js';
import { NOTICES_CONVERSATION_ID, NOTICES_DESTINATION } from './tables.js';

const utf8 = new TextEncoder();

/** The notices conversation as first stored: no peer, titled for lists (UIs translate the title). */
export const newNoticesConversation = (now: number): ConversationEntry => ({
  id: NOTICES_CONVERSATION_ID,
  kind: 'notices',
  title: 'Notices',
  peerAccountId: '',
  peerUsername: null,
  createdAt: now,
  lastMessageAt: now,
  lastMessageKey: null,
  unreadCount: 0,
});

export const noticesConversation = async (ctx: MessengerContext): Promise<ConversationEntry> =>
  (await ctx.platform.storage.get('conversations', NOTICES_CONVERSATION_ID)) ??
  newNoticesConversation(ctx.platform.clock.now());

/** What differs between a notice we send, one an admin sent us, and one our other device sent. */
type NoticeFields = Pick<
  MessageEntry,
  'direction' | 'authorAccountId' | 'authorDeviceId' | 'timestamp' | 'serverTimestamp' | 'text' | 'status' | 'read'
> & { role: 'admin' | 'owner'; senderUsername: string | null; credential: OrganizationNotice };

/**
 * A notice as stored in the notices conversation (with the certificate it carried, for a history transfer to hand
 * on), and that conversation moved to it (one more unread when it is an unread incoming one). Builds rows only; the
 * caller commits them.
 */
export const noticeEntry = (
  ctx: MessengerContext,
  conversation: ConversationEntry,
  { role, senderUsername, credential, ...fields }: NoticeFields,
): { message: MessageEntry; conversation: ConversationEntry } => {
  const message: MessageEntry = {
    id: `${NOTICES_CONVERSATION_ID}/${ctx.sequencer.next()}`,
    conversationId: NOTICES_CONVERSATION_ID,
    ...fields,
    storedAt: ctx.platform.clock.now(),
    quote: null,
    expireTimerSeconds: null,
    error: null,
    notice: {
      role,
      senderUsername,
      roleCertificate: credential.roleCertificate,
      roleCertificateSignature: credential.roleCertificateSignature,
    },
  };
  return {
    message,
    conversation: {
      ...conversation,
      lastMessageAt: Math.max(conversation.lastMessageAt, message.storedAt),
      lastMessageKey: message.id,
      unreadCount: conversation.unreadCount + (message.read ? 0 : 1),
    },
  };
};

/**
 * Sends a notice to every enabled member but ourselves: our certificate must prove admin or owner here (`not_admin`
 * otherwise); stores it in the notices conversation with one outbox entry for all members (the outbox lists them again
 * when it sends), in one commit. Returns the stored notice and how many members it goes to.
 */
export const sendNotice = async (
  ctx: MessengerContext,
  organization: Organization,
  text: string,
): Promise<{ message: MessageEntry; recipients: number }> => {
  if (text.trim().length === 0) throw new ClientError(ClientErrorCode.InvalidInput, 'the notice is empty');
  if (utf8.encode(text).length > MAX_TEXT_BYTES)
    throw new ClientError(ClientErrorCode.InvalidInput, `the notice is longer than ${MAX_TEXT_BYTES} bytes`);
  const credential = await organization.noticeCredential();
  const recipients = (await organization.members())
    .filter((m) => !m.disabled && m.devices > 0 && m.accountId !== ctx.account.accountId)
    .map((m) => m.accountId);
  const timestamp = ctx.timestamps.next();
  const profile = await readMeta(ctx.platform.storage, 'profile');
  const fields = { text, timestamp, senderUsername: profile?.username, notice: credential };
  const content = encodeDataMessage(fields);
  const data = dataContent(fields);
  // Our other devices keep the notice too: its transcript (no destination: a notice is to everyone) carries the same
  // certificate, which they check under their own pin before showing it.
  const transcript =
    data.kind === 'data' ? encodeContent({ kind: 'sync', sync: { type: 'sent', message: data.data } }) : null;
  const conversation = await noticesConversation(ctx);
  const role = (await organization.roleOf(ctx.account.accountId)) === 'owner' ? 'owner' : 'admin';
  const { message, conversation: updated } = noticeEntry(ctx, conversation, {
    direction: 'outgoing',
    authorAccountId: ctx.account.accountId,
    authorDeviceId: ctx.account.deviceId,
    timestamp,
    serverTimestamp: null,
    text,
    status: recipients.length === 0 ? 'sent' : 'sending',
    read: true,
    role,
    senderUsername: profile?.username ?? null,
    credential,
  });
  await ctx.platform.storage.commit([
    ...putMessage(message),
    putConversation(updated),
    ...(recipients.length === 0
      ? []
      : [
          putOutboxEntry({
            ...newOutboxEntry(ctx, {
              destination: NOTICES_DESTINATION,
              kind: 'group',
              timestamp,
              content,
              messageKey: message.id,
            }),
            notice: true,
          }),
        ]),
    ...(transcript
      ? [
          putOutboxEntry(
            newOutboxEntry(ctx, { destination: ctx.account.accountId, kind: 'sync', timestamp, content: transcript }),
          ),
        ]
      : []),
  ]);
  emit(ctx, { type: 'message-added', message });
  emit(ctx, { type: 'conversation-updated', conversation: updated });
  return { message, recipients: recipients.length };
};

/**
 * Judges a received notice: the role its certificate proves for `sender` under our pinned organization key right
 * now (pinning the server's key first if we have none yet), or null when it proves nothing above member.
 */
export const noticeRole = async (
  organization: Organization,
  sender: string,
  notice: OrganizationNotice,
  hasPin: boolean,
): Promise<'owner' | 'admin' | null> => {
  let record;
  try {
    record = hasPin ? await organization.pinned() : await organization.refresh();
  } catch {
    return null;
  }
  const role = organization.verifyCertificate(record, sender, notice.roleCertificate, notice.roleCertificateSignature);
  return role === 'member' ? null : role;
};

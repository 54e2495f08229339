/**
 * The receive pipeline, the same for socket and HTTP-fetched envelopes: under the sender's peer lock, skip GUIDs
 * already processed, decrypt in a ProtocolZone, decode the padded Content (bounded around the envelope's server
 * timestamp), apply it (store a message, advance statuses on receipts, report typing, answer a retry request), and
 * commit the session update, the prekey removal, the history change, the delivery receipt to send and the processed
 * GUID in ONE batch. Only then are the events emitted and the envelope acknowledged, so a crash at any point means a
 * redelivery that is recognized and shown once. Content that breaks the rules is dropped, acknowledged and reported
 * (`message-rejected`). An envelope that cannot be decrypted is recorded as an "undecryptable" placeholder and
 * answered with a retry request in a rebuilt session (`session-reset`), at most MAX_SESSION_RESETS_PER_WINDOW times
 * per device and window, then `session-reset-limited` and nothing more until the window ends; the sender re-sends
 * and the placeholder is replaced. A retry
 * request is answered only from the re-send log: to the asking device, under the identity key the message was first
 * encrypted to, within the window and the per-device budget. It does not fetch or acknowledge by itself (the caller
 * passes the ack).
 *
 * A sealed (`unidentified-sender`) envelope is first opened (sealed-sender.ts: certificate checked against the pinned
 * trust root and time, and against the sender's identity key) into the ordinary envelope it carries, which then goes
 * through the same pipeline under its sender's lock; one that cannot be opened or whose certificate is refused is
 * dropped, acknowledged and logged (its sender is unknown, so nobody can be asked to send it again). The block list
 * and the message-request rules (requests.ts) apply to the sender found inside the seal, exactly as to a named one:
 * a blocked sender's sealed message is dropped unseen and unanswered once opened.
 */
import { ErrorCode, LibSignalErrorBase, ProtocolAddress, SenderKeyMessage, groupDecrypt } from '@cove/crypto';
import {
  ContentError,
  MAX_RETRY_TIMESTAMPS,
  PaddingError,
  decodeContent,
  fromBase64,
  unpadContent,
} from '@cove/protocol';
import type { Content, Envelope, GroupContext } from '@cove/protocol';

import { SealedSender } from './sealed-sender.js';

import { deleteAttachmentBlobs } from './attachments/attachment-blobs.js';
import { takeBudget } from './budget.js';
import { MAX_SESSION_RESETS_PER_WINDOW } from './constants.js';
import type { MessengerContext } from './context.js';
import { emit, emitIdentityChanges, newZone, peerLock } from './context.js';
import type { MessengerEvent } from './events.js';
import { newConversation, putConversation, putMessage } from './history.js';
import type { Outbox } from './outbox.js';
import { mergeIntoOutbox } from './outbox.js';
import type { WriteOp } from './platform.js';
import type { ProtocolZone } from './protocol-zone.js';
import type { ConversationEntry, MessageEntry, ProcessedEnvelopeEntry } from './tables.js';
import { directConversationId, messageIndexKey } from './tables.js';
import { syncRowLocks } from './device-sync.js';
import { applyContent, groupsReceipted } from './content-handlers.js';
import type { Applied, InboxTools } from './content-handlers.js';
import { decryptEnvelope, type OpenEnvelope } from './session-crypto.js';
import { groupLock, toHex } from './groups.js';
import { NOTICES_CONVERSATION_ID, NOTICES_SCOPE, groupConversationId } from './tables.js';
import { isBlocked } from './requests.js';

/**
 * What a blocked sender may still change: their sender-key chains (kept in step, unseen) and the state of a group
 * we already share (membership stays right for everyone else). Everything else from them is dropped unseen.
 */
const passesBlock = async (ctx: MessengerContext, content: Content): Promise<boolean> => {
  if (content.kind === 'sender-key') return true;
  if (content.kind !== 'group-update') return false;
  return (await ctx.platform.storage.get('groups', toHex(content.groupUpdate.id))) !== undefined;
};

/** Sealed envelopes are opened and processed under this lock, one at a time (then under their sender's lock). */
const SEALED_INBOX_LOCK = 'cove:sealed-inbox';

/** Envelopes encrypted with a group member's sender key (one ciphertext for every member device). */
const isSenderKeyEnvelope = (envelope: Envelope): boolean => (envelope.type as string) === 'senderkey';

/** The group whose state a content changes (its row or its conversation): taken under that group's lock. */
const groupOfContent = (content: Content): string | null => {
  if (content.kind === 'group-update') return toHex(content.groupUpdate.id);
  const context = groupContextOf(content);
  return context ? toHex(context.id) : null;
};

/**
 * The group a message, action or typing indicator names (field 16), or null: the only content that may travel with
 * a sender key.
 */
const groupContextOf = (content: Content): GroupContext | null => {
  switch (content.kind) {
    case 'data':
      return content.data.group ?? null;
    case 'reaction':
      return content.reaction.group ?? null;
    case 'edit':
      return content.edit.group ?? null;
    case 'delete':
      return content.delete.group ?? null;
    case 'typing':
      return content.typing.group ?? null;
    case 'receipt':
    case 'retry':
    case 'null':
    case 'group-update':
    case 'sender-key':
    case 'profile-key':
    case 'sync':
      return null;
  }
};

export type InboxResult = 'stored' | 'duplicate' | 'undecryptable' | 'ignored';

/** What a log line may say about a failed decryption: the library's error code or the error's name, no content. */
const decryptFailureLabel = (error: unknown): string =>
  error instanceof LibSignalErrorBase ? String(error.code) : error instanceof Error ? error.name : 'unknown';

export class Inbox {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly checkedClaims = new Set<string>();
  private readonly sealed: SealedSender;

  constructor(
    private readonly ctx: MessengerContext,
    private readonly outbox: Outbox,
    private readonly onPreKeyConsumed: () => void,
  ) {
    this.sealed = new SealedSender(ctx);
  }

  /** Processes one envelope and then calls `ack`; resolves after both. */
  handle(envelope: Envelope, ack: (guid: string) => Promise<void> | void): Promise<InboxResult> {
    const { locks } = this.ctx.platform;
    // The sender as found after opening (for a sealed envelope, its certificate's sender), for noteSibling.
    let sender: OpenEnvelope | null = null;
    const run = async (): Promise<{ result: InboxResult; events: MessengerEvent[]; kick: boolean }> => {
      const opened = await this.open(envelope);
      if (opened === null) return this.refuseSealed(envelope);
      sender = opened;
      return locks.withLock(peerLock(opened.sourceAccountId), () => this.process(opened));
    };
    // Sealed envelopes name their sender only once opened: they are opened and processed one at a time, in arrival
    // order, so that one sender's messages keep their order (and a session's first message comes before the rest).
    const task = (envelope.type === 'unidentified-sender' ? locks.withLock(SEALED_INBOX_LOCK, run) : run()).then(
      async ({ result, events, kick }) => {
        for (const event of events) emit(this.ctx, event);
        await ack(envelope.guid);
        if (kick) this.outbox.kick();
        if (sender !== null) await this.noteSibling(sender);
        return result;
      },
    );
    this.inFlight.add(task);
    void task.then(
      () => this.inFlight.delete(task),
      () => this.inFlight.delete(task),
    );
    return task;
  }

  /**
   * The envelope with its sender: as it came, or a sealed one opened; null for a sealed one refused (or an
   * identified one without a sender, which a server must never send).
   */
  private async open(envelope: Envelope): Promise<OpenEnvelope | null> {
    if (envelope.type !== 'unidentified-sender') {
      const { sourceAccountId, sourceDeviceId } = envelope;
      return sourceAccountId !== undefined && sourceDeviceId !== undefined
        ? { ...envelope, sourceAccountId, sourceDeviceId }
        : null;
    }
    if (await this.ctx.platform.storage.get('processedEnvelopes', envelope.guid)) return null;
    const unsealed = await this.sealed.unseal(envelope);
    if (unsealed.ok) return unsealed.envelope as OpenEnvelope;
    this.ctx.platform.logger.warn('sealed envelope refused', { reason: unsealed.reason });
    return null;
  }

  /** A sealed envelope that could not be opened (or was processed already): recorded as processed, nothing else. */
  private async refuseSealed(
    envelope: Envelope,
  ): Promise<{ result: InboxResult; events: MessengerEvent[]; kick: boolean }> {
    const { storage, clock } = this.ctx.platform;
    if (await storage.get('processedEnvelopes', envelope.guid)) return { result: 'duplicate', events: [], kick: false };
    await storage.commit([
      {
        op: 'put',
        table: 'processedEnvelopes',
        key: envelope.guid,
        value: { at: clock.now() } satisfies ProcessedEnvelopeEntry,
      },
    ]);
    return { result: 'ignored', events: [], kick: false };
  }

  /**
   * Whether the server maps `username` to `accountId`: a sender's claimed username is shown only when confirmed.
   * Each claim is checked once per run; lookup failures count as unconfirmed.
   */
  private async confirmUsername(accountId: string, username: string): Promise<boolean> {
    const key = `${accountId}/${username.toLowerCase()}`;
    if (this.checkedClaims.has(key)) return false;
    this.checkedClaims.add(key);
    try {
      // Only the spelling the server holds: a claim in another case would rename the chat ("bob_ux" → "BOB_UX").
      const found = await this.ctx.api.findUsername(username);
      return found?.accountId === accountId && found.username === username;
    } catch {
      return false;
    }
  }

  /** Resolves when every envelope handed in so far has been processed. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async process(
    envelope: OpenEnvelope,
  ): Promise<{ result: InboxResult; events: MessengerEvent[]; kick: boolean }> {
    const { ctx } = this;
    const { storage, clock, logger } = ctx.platform;
    const processed: WriteOp = {
      op: 'put',
      table: 'processedEnvelopes',
      key: envelope.guid,
      value: { at: clock.now() } satisfies ProcessedEnvelopeEntry,
    };
    const zone = newZone(ctx);
    // The session and identity the decryption will read, in the same round trip as the checks below (the zone runs
    // under this peer's lock, which the pipeline holds): one IndexedDB transaction instead of three in a row.
    if (!isSenderKeyEnvelope(envelope)) zone.prefetch(envelope.sourceAccountId, [envelope.sourceDeviceId]);
    // Read together (one storage round trip). Blocking takes this peer's lock, which this pipeline holds, so the
    // answer cannot change before the decision below.
    const [seen, blocked] = await Promise.all([
      storage.get('processedEnvelopes', envelope.guid),
      isBlocked(storage, envelope.sourceAccountId),
    ]);
    if (seen) return { result: 'duplicate', events: [], kick: false };
    if (envelope.sourceAccountId === ctx.account.accountId && envelope.sourceDeviceId === ctx.account.deviceId) {
      // Nothing this device sent comes back to it (the server never addresses the sending device): dropped.
      await storage.commit([processed]);
      return { result: 'ignored', events: [], kick: false };
    }

    if (isSenderKeyEnvelope(envelope)) return this.processGroup(envelope, processed);

    let padded: Uint8Array;
    try {
      padded = await decryptEnvelope(zone, envelope);
    } catch (error) {
      if (error instanceof LibSignalErrorBase && error.code === ErrorCode.DuplicatedMessage) {
        await storage.commit([processed]);
        return { result: 'duplicate', events: [], kick: false };
      }
      if (blocked) {
        // No placeholder and no retry request for a blocked sender: nothing is shown and nothing is answered.
        await storage.commit([processed]);
        return { result: 'ignored', events: [], kick: false };
      }
      logger.warn('undecryptable envelope', {
        accountId: envelope.sourceAccountId,
        deviceId: envelope.sourceDeviceId,
        type: envelope.type,
        error: decryptFailureLabel(error),
      });
      return this.recordUndecryptable(envelope, processed);
    }
    if (envelope.type === 'prekey') this.onPreKeyConsumed();

    let content: Content;
    try {
      // Timestamps inside are held to a window around the server's timestamp of this envelope.
      content = decodeContent(unpadContent(padded), { serverTimestamp: envelope.serverTimestamp });
    } catch (error) {
      if (!(error instanceof ContentError || error instanceof PaddingError)) throw error;
      const reason = error instanceof ContentError ? error.reason : 'malformed';
      logger.warn('invalid content', { accountId: envelope.sourceAccountId, error: error.name, reason });
      // A bad message is consumed (the session advanced, the envelope is acknowledged) and reported, never retried.
      await storage.commit([...zone.operations(), processed]);
      await emitIdentityChanges(ctx, zone.identityChanges);
      const rejected: MessengerEvent = {
        type: 'message-rejected',
        accountId: envelope.sourceAccountId,
        deviceId: envelope.sourceDeviceId,
        reason,
      };
      return { result: 'ignored', events: [rejected], kick: false };
    }

    if (blocked && !(await passesBlock(ctx, content))) {
      // The session advanced (kept in step for an unblock); the content is dropped unseen and unanswered.
      await storage.commit([...zone.operations(), processed]);
      logger.info('blocked sender dropped', { accountId: envelope.sourceAccountId, kind: content.kind });
      return { result: 'ignored', events: [], kick: false };
    }

    const groupId = groupOfContent(content);
    const applyAndCommit = async (): Promise<Applied> => {
      const applied = await this.apply(envelope, content, zone);
      await storage.commit([...zone.operations(), ...applied.writes, processed]);
      return applied;
    };
    // A group's row and conversation are changed by several peers' pipelines: one at a time (peer lock, then group).
    // A receipt names no group, but may change our messages in groups: under those groups' locks (sorted), so that it
    // never writes back a row the outbox marked sent meanwhile (content-handlers.ts). A sibling's sync of contacts or
    // conversations changes other peers' rows: under their locks too (device-sync.ts). Taken one inside the other, in
    // the order given (peer locks before group locks, each sorted), after this pipeline's own peer lock.
    const rowLocks =
      groupId !== null
        ? [groupLock(groupId)]
        : content.kind === 'receipt'
          ? (await groupsReceipted(ctx, envelope.sourceAccountId, content.receipt.timestamps)).map(groupLock)
          : content.kind === 'sync' && envelope.sourceAccountId === ctx.account.accountId
            ? syncRowLocks(ctx, content.sync)
            : [];
    const applied = await rowLocks.reduceRight<() => Promise<Applied>>(
      (inner, name) => () => ctx.platform.locks.withLock(name, inner),
      applyAndCommit,
    )();
    await emitIdentityChanges(ctx, zone.identityChanges);
    for (const message of applied.discardBlobsOf ?? []) await deleteAttachmentBlobs(ctx.platform, message);
    // Network work after the commit runs outside this peer's pipeline: it must not hold the next envelope up.
    if (applied.after)
      void applied
        .after()
        .catch((error: unknown) =>
          logger.warn('follow-up of a message failed', { error: error instanceof Error ? error.name : 'unknown' }),
        );
    return { result: applied.stored ? 'stored' : 'duplicate', events: applied.events, kick: applied.kick };
  }

  /** A device of our own account we did not know yet (just linked): our device list is refreshed from the server. */
  private async noteSibling(envelope: Envelope): Promise<void> {
    const { account, platform } = this.ctx;
    if (envelope.sourceAccountId !== account.accountId || envelope.sourceDeviceId === account.deviceId) return;
    const known = (await platform.storage.get('contacts', account.accountId))?.devices ?? null;
    if (known?.some((d) => d.deviceId === envelope.sourceDeviceId)) return;
    void this.outbox.refreshSiblings().catch(() => undefined);
  }

  /**
   * A sender-key envelope: decrypted with the sending device's chain, decoded, and accepted only as group content (a
   * message, an action or a typing indicator naming its group) from a current member on the chain that device gave us for that group,
   * or as an organization notice on the notice chain that device gave us (content-handlers.ts); a refusal changes
   * nothing but the processed GUID. An undecryptable one asks its sender, pairwise, to send it again (within the
   * device's reset budget, since a server can inject garbage).
   */
  private async processGroup(
    envelope: OpenEnvelope,
    processed: WriteOp,
  ): Promise<{ result: InboxResult; events: MessengerEvent[]; kick: boolean }> {
    const { ctx } = this;
    const { storage, logger } = ctx.platform;
    const zone = newZone(ctx);
    const sender = ProtocolAddress.new(envelope.sourceAccountId, envelope.sourceDeviceId);
    let padded: Uint8Array;
    let distributionId: string;
    try {
      const body = new Uint8Array(fromBase64(envelope.content));
      distributionId = SenderKeyMessage.deserialize(body).distributionId();
      padded = await groupDecrypt(sender, zone.senderKeyStore, body);
    } catch (error) {
      if (error instanceof LibSignalErrorBase && error.code === ErrorCode.DuplicatedMessage) {
        await storage.commit([processed]);
        return { result: 'duplicate', events: [], kick: false };
      }
      if (await isBlocked(storage, envelope.sourceAccountId)) {
        await storage.commit([processed]);
        return { result: 'ignored', events: [], kick: false };
      }
      logger.warn('undecryptable group envelope', {
        accountId: envelope.sourceAccountId,
        deviceId: envelope.sourceDeviceId,
        error: decryptFailureLabel(error),
      });
      return this.requestGroupResend(envelope, processed);
    }
    let content: Content;
    try {
      content = decodeContent(unpadContent(padded), { serverTimestamp: envelope.serverTimestamp });
    } catch (error) {
      if (!(error instanceof ContentError || error instanceof PaddingError)) throw error;
      const reason = error instanceof ContentError ? error.reason : 'malformed';
      logger.warn('invalid group content', { accountId: envelope.sourceAccountId, error: error.name, reason });
      await storage.commit([processed]);
      const rejected: MessengerEvent = {
        type: 'message-rejected',
        accountId: envelope.sourceAccountId,
        deviceId: envelope.sourceDeviceId,
        reason,
      };
      return { result: 'ignored', events: [rejected], kick: false };
    }
    if (await isBlocked(storage, envelope.sourceAccountId)) {
      // A blocked member's group message: their chain advanced (kept in step), the message is dropped unseen.
      await storage.commit([...zone.operations(), processed]);
      logger.info('blocked sender dropped', { accountId: envelope.sourceAccountId, kind: 'group' });
      return { result: 'ignored', events: [], kick: false };
    }
    const context = groupContextOf(content);
    // An organization notice names no group: it is judged on the sender's notice chain (content-handlers.ts).
    const notice = content.kind === 'data' && content.data.notice !== undefined && !context;
    const groupId = context ? toHex(context.id) : notice ? NOTICES_SCOPE : null;
    if (groupId === null) {
      // Only group messages, actions and typing indicators travel with sender keys; anything else in one is
      // refused (nothing applied).
      await storage.commit([processed]);
      const rejected: MessengerEvent = {
        type: 'message-rejected',
        accountId: envelope.sourceAccountId,
        deviceId: envelope.sourceDeviceId,
        reason: 'group_refused',
      };
      return { result: 'ignored', events: [rejected], kick: false };
    }
    const applied = await ctx.platform.locks.withLock(groupLock(groupId), async () => {
      const result = await applyContent(content.kind, {
        ctx,
        tools: this.tools(),
        envelope,
        content,
        zone,
        peer: envelope.sourceAccountId,
        conversationId: notice ? NOTICES_CONVERSATION_ID : groupConversationId(groupId),
        senderKeyDistributionId: distributionId,
      });
      // A refused message leaves the sender's chain where it was: only the processed GUID is recorded.
      await storage.commit(result.stored ? [...zone.operations(), ...result.writes, processed] : [processed]);
      return result;
    });
    return { result: applied.stored ? 'stored' : 'ignored', events: applied.events, kick: applied.kick };
  }

  private async requestGroupResend(
    envelope: OpenEnvelope,
    processed: WriteOp,
  ): Promise<{ result: InboxResult; events: MessengerEvent[]; kick: boolean }> {
    const { ctx } = this;
    const { storage, clock } = ctx.platform;
    const peer = envelope.sourceAccountId;
    const device = envelope.sourceDeviceId;
    const writes: WriteOp[] = [processed];
    const events: MessengerEvent[] = [];
    const budget = await takeBudget(storage, 'reset', peer, device, MAX_SESSION_RESETS_PER_WINDOW, clock.now());
    writes.push(budget.write);
    if (!budget.allowed) {
      if (budget.firstRefusal)
        events.push({ type: 'session-reset-limited', accountId: peer, deviceId: device, until: budget.resetsAt });
      await storage.commit(writes);
      return { result: 'undecryptable', events, kick: false };
    }
    writes.push(...(await mergeIntoOutbox(ctx, peer, 'retry', [envelope.timestamp])));
    await storage.commit(writes);
    events.push({
      type: 'group-message-undecryptable',
      accountId: peer,
      deviceId: device,
      timestamp: envelope.timestamp,
    });
    return { result: 'undecryptable', events, kick: true };
  }

  private tools(): InboxTools {
    return {
      conversationFor: (id) => this.conversationFor(id),
      confirmUsername: (id, username) => this.confirmUsername(id, username),
    };
  }

  private async conversationFor(peer: string): Promise<ConversationEntry> {
    const { storage, clock } = this.ctx.platform;
    // The summary as readers see it: expired disappearing messages neither counted nor pointed at.
    const existing = await this.ctx.history.conversation(directConversationId(peer));
    if (existing) return existing;
    const contact = await storage.get('contacts', peer);
    // No conversation yet: whoever this is, they are not a contact, and this is a message request.
    return { ...newConversation(peer, contact?.username ?? null, clock.now()), request: true };
  }

  private async recordUndecryptable(
    envelope: OpenEnvelope,
    processed: WriteOp,
  ): Promise<{ result: InboxResult; events: MessengerEvent[]; kick: boolean }> {
    const { ctx } = this;
    const { storage, clock } = ctx.platform;
    const peer = envelope.sourceAccountId;
    const device = envelope.sourceDeviceId;
    const events: MessengerEvent[] = [];
    const writes: WriteOp[] = [processed];
    // A request for this device still waiting takes the timestamp; otherwise a new reset needs the device's budget
    // (garbage envelopes, which a server can inject, must not make us rebuild sessions without end).
    const waiting = (await storage.list('outbox')).some(
      ({ value }) =>
        value.destination === peer &&
        value.kind === 'retry' &&
        value.resetDeviceId === device &&
        value.timestamps.length < MAX_RETRY_TIMESTAMPS,
    );
    if (!waiting) {
      const budget = await takeBudget(storage, 'reset', peer, device, MAX_SESSION_RESETS_PER_WINDOW, clock.now());
      writes.push(budget.write);
      if (!budget.allowed) {
        ctx.platform.logger.warn('session resets limited', { accountId: peer, deviceId: device });
        if (budget.firstRefusal)
          events.push({ type: 'session-reset-limited', accountId: peer, deviceId: device, until: budget.resetsAt });
        await storage.commit(writes);
        return { result: 'undecryptable', events, kick: false };
      }
      events.push({ type: 'session-reset', accountId: peer, deviceId: device });
    }
    const conversation = await this.conversationFor(peer);
    const indexKey = messageIndexKey(conversation.id, peer, envelope.timestamp);
    if (!(await storage.get('messageIndex', indexKey))) {
      const message: MessageEntry = {
        id: `${conversation.id}/${ctx.sequencer.next()}`,
        conversationId: conversation.id,
        direction: 'incoming',
        authorAccountId: peer,
        authorDeviceId: envelope.sourceDeviceId,
        timestamp: envelope.timestamp,
        serverTimestamp: envelope.serverTimestamp,
        storedAt: clock.now(),
        text: '',
        quote: null,
        expireTimerSeconds: null,
        status: 'undecryptable',
        read: true,
        error: 'undecryptable',
      };
      const updated: ConversationEntry = {
        ...conversation,
        lastMessageAt: Math.max(conversation.lastMessageAt, message.storedAt),
      };
      writes.push(...putMessage(message), putConversation(updated));
      events.push({ type: 'message-added', message }, { type: 'conversation-updated', conversation: updated });
    }
    writes.push(...(await mergeIntoOutbox(ctx, peer, 'retry', [envelope.timestamp], { resetDeviceId: device })));
    await storage.commit(writes);
    return { result: 'undecryptable', events, kick: true };
  }

  private apply(envelope: OpenEnvelope, content: Content, zone: ProtocolZone): Promise<Applied> {
    const peer = envelope.sourceAccountId;
    return applyContent(content.kind, {
      ctx: this.ctx,
      tools: this.tools(),
      envelope,
      content,
      zone,
      peer,
      conversationId: directConversationId(peer),
    });
  }
}

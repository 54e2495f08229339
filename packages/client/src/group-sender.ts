/**
 * Sending to a group with sender keys: our sender key per group (a distribution id and a chain under our own
 * address, created on first use and after every rotation), its distribution — a SenderKeyDistributionMessage sent
 * pairwise, over the existing 1:1 sessions, to every member device that does not hold it yet — and then the group
 * message itself, encrypted ONCE with `groupEncrypt` and sent in ONE multi-recipient request naming every member
 * device. The server's corrections come for all failing recipients at once (`409` missing/extra devices, `410`
 * stale devices); they are repaired as for 1:1 (new devices get sessions from fresh bundles and then our sender
 * key; gone devices are dropped) and the message is sent again. Each accepted message is logged for re-sending
 * (pairwise, to the one device that asks, under the identity key its member had) for a day.
 *
 * Rotation: before every encryption (every round of the send loop, so also right after a `409`/`410` correction, and
 * again after the distribution, whose 1:1 sends follow their own corrections), each device that was given our current
 * key is checked against the audience: its account must still be in it (or be ours) and the device — id AND
 * registration id — must still be in that account's stored device list. A holder that is not (a member removed or
 * disabled; one device of a member unlinked, dropped as `409` extra; a device id re-registered, `410` stale, so its
 * old install is gone) makes us delete our key and start a new chain, distributed to current devices only: the gone
 * device's copy opens nothing sent after we learn it is gone (the message whose `409`/`410` told us was addressed to
 * it, and is encrypted again on the new chain). A device list not known at the moment (null, e.g. our own after
 * linking a device) is no evidence of a removal and rotates nothing. A device ADDED is not a reason to rotate: it is
 * simply given the current key, as Signal's clients do (it can then read what is sent from now on, never what came
 * before, since a chain only ratchets forward). Our own other devices are checked too, though the distribution
 * never gives them our key (they are not among the members it serves).
 *
 * Sealed sender: when every member account has a usable unidentified access key and we hold a sender certificate,
 * the one sender-key ciphertext is wrapped in a sealed v2 message (libsignal's SealedSenderMultiRecipientMessage,
 * addressed to every member device through its 1:1 session) and sent without credentials, authorized by the XOR of
 * the members' keys: the server learns the recipients but not the sender. A `401` for that key sends the same
 * message identified at once. Our own other devices are addressed identified (the message then goes identified).
 *
 * Organization notices (docs/organizations.md) travel the same way under their own audience: an administrator device's
 * organization-notice sender key (scope {@link NOTICES_SCOPE}: its own distribution id, distinct from every group's),
 * distributed pairwise to every enabled member device lacking it (members from the admin endpoint `GET
 * /v1/org/members`), then the notice encrypted once and sent in ONE identified multi-recipient request marked
 * `notice` (never sealed: the server lets only administrators send notices, so it must see who sends). It rotates as a
 * group key does: a member that held the key and is no longer an enabled member (removed or disabled), or a device of
 * a member that is no longer among its devices, makes the next notice start a new chain, so that it cannot read later
 * notices. Our own other devices get the notice as a sent transcript (notices.ts), not here.
 *
 * It runs inside an outbox pass (the outbox calls `deliver` for entries of kind `group`) and never holds the group
 * lock while it sends, or a peer lock while it takes the group lock. It does not decide who is a member (groups.ts,
 * the organization's member list) and does not receive (content-handlers.ts, inbox.ts).
 */
import {
  CiphertextMessageType,
  ContentHint,
  ProtocolAddress,
  SenderKeyDistributionMessage,
  UnidentifiedSenderMessageContent,
  groupEncrypt,
  sealedSenderMultiRecipientEncrypt,
} from '@cove/crypto';
import type { SenderCertificate } from '@cove/crypto';
import { encodeContent, fromBase64, padContent, toBase64 } from '@cove/protocol';

import type { Content, MultiRecipient, SendMultiRequest } from '@cove/protocol';

import type { MultiSendOutcome } from './api-client.js';
import { SocketSendError } from './connection.js';
import { MAX_DEVICE_SYNC_ROUNDS, RESEND_WINDOW_MS } from './constants.js';
import type { MessengerContext } from './context.js';
import { newZone } from './context.js';
import { ClientError, ClientErrorCode, UnidentifiedAccessDeniedError } from './errors.js';
import { fromHex, groupLock } from './groups.js';
import type { WriteOp } from './platform.js';
import type { DeviceAddress, OutboxEntry, OwnSenderKeyEntry, ResendDevice, ResendLogEntry } from './tables.js';
import { NOTICES_SCOPE, groupOf, groupResendLogKey, ownSenderKeyKey, resendExpiryKey } from './tables.js';
import type { SealedSender } from './sealed-sender.js';

/** What the group sender borrows from the outbox: a pairwise send to every device of one account, and its repairs. */
export interface PairwiseSender {
  /** Encrypts `content` for every device of `accountId` (sessions made as needed) and sends it; the devices reached. */
  sendPairwise(accountId: string, content: Uint8Array, timestamp: number): Promise<DeviceAddress[]>;
  /** Drops extra devices, rebuilds stale ones and adds missing ones of an account (as after a 1:1 409/410). */
  correctDevices(accountId: string, missing: number[], extra: number[], stale: number[]): Promise<void>;
  /** Access keys and the sender certificate of sealed sends. */
  readonly sealed: SealedSender;
}

/** Raised when a group send should be tried again later (device lists kept changing). */
export class GroupSendDeferred extends Error {
  override readonly name = 'GroupSendDeferred';
}

const fromBase64Bytes = (text: string): Uint8Array => new Uint8Array(fromBase64(text));

/** How a device that holds our sender key is remembered: a re-registered device (new registration id) does not. */
export const holderKey = (accountId: string, device: DeviceAddress): string =>
  `${accountId}.${device.deviceId}.${device.registrationId}`;

/** The account of a {@link holderKey} (everything before the device id and registration id). */
const holderAccount = (holder: string): string => holder.split('.').slice(0, -2).join('.');

/** Why our key must start a new chain (logged): a holder's account left the audience, or one of its devices is gone. */
type RotationReason = 'member gone' | 'device gone';

/**
 * Stored device lists (null: not known) read at most once per round of a send, so that the rotation check, the
 * distribution and the recipient list cost one read per account between them; `forget` after a send that may have
 * corrected an account's list.
 */
type DeviceLists = {
  of(accountId: string): Promise<DeviceAddress[] | null>;
  forget(accountId: string): void;
};

/**
 * Who one sender-key send goes to and how: a group's members, or (for an organization notice) every enabled member of
 * the organization. `scope` names our own sender key (`ownSenderKeyKey`), its lock and the re-send log's peer.
 */
type Audience = {
  scope: string;
  /** The member accounts (never ours) the message goes to now; throws when it cannot go at all. */
  members(): Promise<string[]>;
  /** The pairwise content that hands a member our distribution message. */
  distribution(message: Uint8Array): Content;
  /** A notice: identified only (never sealed), marked for the server, and not to our own other devices. */
  notice: boolean;
};

/** A random distribution id (a version-4 UUID), libsignal's form. */
const newDistributionId = (random: (n: number) => Uint8Array): string => {
  const b = random(16);
  b[6] = ((b[6] ?? 0) & 0x0f) | 0x40;
  b[8] = ((b[8] ?? 0) & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
};

export class GroupSender {
  constructor(
    private readonly ctx: MessengerContext,
    private readonly pairwise: PairwiseSender,
    /** Counts multi-recipient requests made (benchmarks and tests read it). */
    private readonly onRequest: () => void = () => undefined,
  ) {}

  /** A fresh {@link DeviceLists} over the `contacts` table. */
  private deviceLists(): DeviceLists {
    const { storage } = this.ctx.platform;
    const read = new Map<string, Promise<DeviceAddress[] | null>>();
    return {
      of: (accountId) => {
        let devices = read.get(accountId);
        if (!devices) {
          devices = storage.get('contacts', accountId).then((contact) => contact?.devices ?? null);
          read.set(accountId, devices);
        }
        return devices;
      },
      forget: (accountId) => read.delete(accountId),
    };
  }

  private get me(): ProtocolAddress {
    return ProtocolAddress.new(this.ctx.account.accountId, this.ctx.account.deviceId);
  }

  /**
   * Our sender key for a group (or, scope {@link NOTICES_SCOPE}, for notices): the current one, or a new chain (first
   * send, or after a rotation).
   */
  private ownKey(groupId: string): Promise<OwnSenderKeyEntry> {
    const { ctx } = this;
    return ctx.platform.locks.withLock(groupLock(groupId), async () => {
      const { storage, clock, random } = ctx.platform;
      const existing = await storage.get('senderKeys', ownSenderKeyKey(groupId));
      if (existing && 'holders' in existing) return existing;
      const zone = newZone(ctx);
      const distributionId = newDistributionId((n) => random.bytes(n));
      await SenderKeyDistributionMessage.create(this.me, distributionId, zone.senderKeyStore, (n) => random.bytes(n));
      const own: OwnSenderKeyEntry = { distributionId, holders: [], createdAt: clock.now() };
      await storage.commit([
        ...zone.operations(),
        { op: 'put', table: 'senderKeys', key: ownSenderKeyKey(groupId), value: own },
      ]);
      ctx.platform.logger.info('group sender key created', { groupId: groupId.slice(0, 8) });
      return own;
    });
  }

  /** Our distribution message for the chain `distributionId`, as the audience's pairwise content. */
  private async distributionContent(audience: Audience, distributionId: string): Promise<Uint8Array> {
    const zone = newZone(this.ctx);
    const message = await SenderKeyDistributionMessage.create(this.me, distributionId, zone.senderKeyStore);
    return encodeContent(audience.distribution(message.serialize()));
  }

  /**
   * Whether a device given our key `own` is gone (see the module comment): its account is neither one of `members` nor
   * ours, or the account's stored device list (as corrected by `409`/`410`) no longer names it with that registration
   * id. An account whose device list is not known (no row, or null) counts as unchanged. Null when none is gone.
   */
  private async goneHolder(
    own: OwnSenderKeyEntry,
    members: string[],
    lists: DeviceLists,
  ): Promise<RotationReason | null> {
    const audience = new Set(members);
    audience.add(this.ctx.account.accountId);
    const byAccount = new Map<string, string[]>();
    for (const holder of own.holders) {
      const accountId = holderAccount(holder);
      if (!audience.has(accountId)) return 'member gone';
      const listed = byAccount.get(accountId);
      if (listed) listed.push(holder);
      else byAccount.set(accountId, [holder]);
    }
    for (const [accountId, holders] of byAccount) {
      const devices = await lists.of(accountId);
      if (devices === null) continue;
      const current = new Set(devices.map((d) => holderKey(accountId, d)));
      if (holders.some((h) => !current.has(h))) return 'device gone';
    }
    return null;
  }

  /**
   * Deletes our key of `scope` (under its lock, as a group update's rotation does) when a device that holds it is gone,
   * so that the next encryption starts a new chain, distributed afresh to current devices only. Returns whether it did.
   */
  private async rotateIfHolderGone(scope: string, members: string[], lists: DeviceLists): Promise<boolean> {
    const { ctx } = this;
    return ctx.platform.locks.withLock(groupLock(scope), async () => {
      const { storage } = ctx.platform;
      const own = await storage.get('senderKeys', ownSenderKeyKey(scope));
      if (!own || !('holders' in own)) return false;
      const reason = await this.goneHolder(own, members, lists);
      if (reason === null) return false;
      await storage.commit([{ op: 'delete', table: 'senderKeys', key: ownSenderKeyKey(scope) }]);
      ctx.platform.logger.info('group sender key rotated', {
        scope: scope === NOTICES_SCOPE ? NOTICES_SCOPE : scope.slice(0, 8),
        reason,
      });
      return true;
    });
  }

  /**
   * Sends our sender key pairwise to every member account with a device lacking it; returns the accounts that
   * could not be reached (unknown, or a verified contact whose key changed: they are left out of this message) and
   * whether any pairwise send was made (its own 409/410 handling may have changed a device list).
   */
  private async distribute(
    audience: Audience,
    own: OwnSenderKeyEntry,
    members: string[],
    timestamp: number,
    lists: DeviceLists,
  ): Promise<{ unreachable: Set<string>; sentPairwise: boolean }> {
    const groupId = audience.scope;
    const { ctx } = this;
    const { storage } = ctx.platform;
    const unreachable = new Set<string>();
    let sentPairwise = false;
    const added: string[] = [];
    let content: Uint8Array | null = null;
    const holders = new Set(own.holders);
    const reshare = new Set(own.reshare ?? []);
    const holds = (accountId: string, d: DeviceAddress): boolean =>
      holders.has(holderKey(accountId, d)) && !reshare.has(holderKey(accountId, d));
    for (const accountId of members) {
      const devices = await lists.of(accountId);
      if (devices && devices.length > 0 && devices.every((d) => holds(accountId, d))) continue;
      content ??= await this.distributionContent(audience, own.distributionId);
      sentPairwise = true;
      // The 1:1 send learns the account's devices (bundles, its own 409/410): read them again afterwards.
      lists.forget(accountId);
      try {
        const reached = await this.pairwise.sendPairwise(accountId, content, timestamp);
        added.push(...reached.map((d) => holderKey(accountId, d)));
      } catch (error) {
        if (
          error instanceof ClientError &&
          (error.code === ClientErrorCode.UnknownUser || error.code === ClientErrorCode.IdentityChanged)
        ) {
          ctx.platform.logger.warn('group member unreachable', { accountId, error: error.code });
          unreachable.add(accountId);
          continue;
        }
        throw error;
      }
    }
    if (added.length > 0) {
      await ctx.platform.locks.withLock(groupLock(groupId), async () => {
        const current = await storage.get('senderKeys', ownSenderKeyKey(groupId));
        // A rotation meanwhile (a member removed) made these holders of a chain no longer in use.
        if (!current || !('holders' in current) || current.distributionId !== own.distributionId) return;
        const holders = [...new Set([...current.holders, ...added])];
        const reshare = (current.reshare ?? []).filter((h) => !added.includes(h));
        own.holders = holders;
        own.reshare = reshare;
        await storage.commit([
          { op: 'put', table: 'senderKeys', key: ownSenderKeyKey(groupId), value: { ...current, holders, reshare } },
        ]);
      });
    }
    return { unreachable, sentPairwise };
  }

  /** Encrypts the padded content once on our current chain (the chain's step is committed before it is sent). */
  private async encrypt(distributionId: string, content: Uint8Array): Promise<Uint8Array> {
    const zone = newZone(this.ctx);
    const message = await groupEncrypt(this.me, distributionId, zone.senderKeyStore, padContent(content));
    await this.ctx.platform.storage.commit(zone.operations());
    return message.serialize();
  }

  /** One request: over the socket when it is up, else HTTP (a socket that fails before sending falls back). */
  private async transmit(request: SendMultiRequest): Promise<MultiSendOutcome> {
    this.onRequest();
    const connection = this.ctx.connection();
    if (connection?.isReady) {
      try {
        return await connection.sendMulti(request);
      } catch (error) {
        if (!(error instanceof SocketSendError)) throw error;
      }
    }
    return this.ctx.api.sendMulti(request);
  }

  /**
   * Delivers one outbox entry of kind `group`: distribution, one encryption, one request, repairs; returns the
   * server timestamp of the accepted send.
   */
  async deliver(entry: OutboxEntry): Promise<{ serverTimestamp: number }> {
    return this.deliverTo(entry, entry.notice === true ? this.noticeAudience() : this.groupAudience(entry));
  }

  /** A group's members, as this device holds the group now. */
  private groupAudience(entry: OutboxEntry): Audience {
    const { ctx } = this;
    const groupId = groupOf(entry.destination);
    if (groupId === null) throw new ClientError(ClientErrorCode.InvalidInput, 'not a group destination');
    return {
      scope: groupId,
      members: async () => {
        const group = await ctx.platform.storage.get('groups', groupId);
        if (!group || !group.active) throw new ClientError(ClientErrorCode.InvalidInput, 'you are not in this group');
        return group.members.map((m) => m.accountId).filter((a) => a !== ctx.account.accountId);
      },
      distribution: (distributionMessage) => ({
        kind: 'sender-key',
        senderKey: { groupId: fromHex(groupId), distributionMessage },
      }),
      notice: false,
    };
  }

  /**
   * Every enabled member of the organization with a device but us, from the admin endpoint (listed once per send: an
   * admin's notice goes to the members the server lists; the receivers judge the certificate). A member gone since
   * the last notice rotates our notice key first (deliverTo).
   */
  private noticeAudience(): Audience {
    const { ctx } = this;
    let listed: Promise<string[]> | null = null;
    return {
      scope: NOTICES_SCOPE,
      members: () =>
        (listed ??= ctx.api
          .members()
          .then(({ members: all }) =>
            all
              .filter((m) => !m.disabled && m.devices > 0 && m.accountId !== ctx.account.accountId)
              .map((m) => m.accountId),
          )),
      distribution: (distributionMessage) => ({
        kind: 'sender-key',
        senderKey: { groupId: new Uint8Array(0), distributionMessage, notice: true },
      }),
      notice: true,
    };
  }

  private async deliverTo(entry: OutboxEntry, audience: Audience): Promise<{ serverTimestamp: number }> {
    const { ctx } = this;
    const groupId = audience.scope;
    const me = ctx.account.accountId;
    /** Accounts the server says no longer exist: left out of this message. */
    const gone = new Set<string>();
    for (let round = 0; round < MAX_DEVICE_SYNC_ROUNDS; round += 1) {
      const members = await audience.members();
      const lists = this.deviceLists();
      // Every round: a correction by the previous round's 409/410 may have dropped a device that holds our key.
      await this.rotateIfHolderGone(groupId, members, lists);
      const own = await this.ownKey(groupId);
      const { unreachable, sentPairwise } = await this.distribute(audience, own, members, entry.timestamp, lists);
      // The distribution's 1:1 sends follow their own 409/410 and may just have dropped a holder: then a new chain first.
      if (sentPairwise && (await this.rotateIfHolderGone(groupId, members, lists))) continue;
      for (const accountId of gone) unreachable.add(accountId);
      const recipients: MultiRecipient[] = [];
      for (const accountId of members) {
        if (unreachable.has(accountId)) continue;
        const devices = (await lists.of(accountId)) ?? [];
        if (devices.length > 0) recipients.push({ accountId, devices: devices.map((d) => ({ ...d })) });
      }
      // Our own other devices get a group message too (they are members through our account); a notice reaches
      // them as a sent transcript instead (notices.ts).
      const mine = audience.notice
        ? []
        : ((await lists.of(me)) ?? []).filter((d) => d.deviceId !== ctx.account.deviceId);
      if (mine.length > 0) recipients.push({ accountId: me, devices: mine });
      if (recipients.length === 0) {
        // Nobody to send to (every member unreachable, or none with a device): done, as sent.
        ctx.platform.logger.debug('group message has no recipient devices', { unreachable: unreachable.size });
        return { serverTimestamp: ctx.platform.clock.now() };
      }
      const ciphertext = await this.encrypt(own.distributionId, entry.content);
      const request: SendMultiRequest = {
        type: 'senderkey',
        content: toBase64(ciphertext),
        timestamp: entry.timestamp,
        urgent: true,
        recipients,
        ...(audience.notice ? { notice: true } : {}),
      };
      const outcome =
        (audience.notice ? null : await this.transmitSealed(groupId, request, ciphertext)) ??
        (await this.transmit(request));
      switch (outcome.kind) {
        case 'accepted':
          if (outcome.queueFull.length > 0)
            ctx.platform.logger.warn('group message skipped full queues', { accounts: outcome.queueFull.length });
          await this.logForResend(groupId, entry, recipients);
          return { serverTimestamp: outcome.serverTimestamp };
        case 'not-found':
          for (const accountId of outcome.accounts) gone.add(accountId);
          break;
        case 'mismatched':
          for (const account of outcome.accounts)
            await this.pairwise.correctDevices(
              account.accountId,
              account.missingDevices,
              account.extraDevices,
              account.staleDevices,
            );
          break;
        case 'stale':
          for (const account of outcome.accounts)
            await this.pairwise.correctDevices(account.accountId, [], [], account.staleDevices);
          break;
      }
    }
    throw new GroupSendDeferred("the group's device lists kept changing");
  }

  /**
   * Sends content that is never queued or re-sent (a typing indicator) once with our CURRENT sender key, over the
   * live socket only, and only when every member device holds that key already and no device that holds it is gone:
   * an indicator never creates, distributes or rotates a key, never fetches bundles and never repairs device lists (a
   * `409`/`410` just drops it; the next group message rotates). Not counted as a group message request and not logged
   * for re-sending. Returns whether the server took it.
   */
  async sendEphemeral(groupId: string, content: Uint8Array, timestamp: number): Promise<boolean> {
    const { ctx } = this;
    const { storage } = ctx.platform;
    const connection = ctx.connection();
    if (!connection?.isReady) return false;
    const group = await storage.get('groups', groupId);
    const own = await storage.get('senderKeys', ownSenderKeyKey(groupId));
    if (!group?.active || !own || !('holders' in own)) return false;
    const me = ctx.account.accountId;
    const others = group.members.map((m) => m.accountId).filter((a) => a !== me);
    // A gone holder would read it: the key is due for a rotation, which only a group message makes.
    const lists = this.deviceLists();
    if ((await this.goneHolder(own, others, lists)) !== null) return false;
    const holders = new Set(own.holders);
    const reshare = new Set(own.reshare ?? []);
    const recipients: MultiRecipient[] = [];
    // Our own other devices are not told: an indicator is for the other members.
    for (const accountId of others) {
      const devices = (await lists.of(accountId)) ?? [];
      const holds = (d: DeviceAddress): boolean =>
        holders.has(holderKey(accountId, d)) && !reshare.has(holderKey(accountId, d));
      if (devices.length === 0 || !devices.every(holds)) return false;
      recipients.push({ accountId, devices: devices.map((d) => ({ ...d })) });
    }
    if (recipients.length === 0) return false;
    const ciphertext = await this.encrypt(own.distributionId, content);
    try {
      const outcome = await connection.sendMulti({
        type: 'senderkey',
        content: toBase64(ciphertext),
        timestamp,
        urgent: false,
        recipients,
      });
      return outcome.kind === 'accepted';
    } catch {
      return false;
    }
  }

  /**
   * The sealed v2 form of `request` sent without credentials, when every recipient account has a usable access key
   * and a certificate is at hand; null to send it identified (not possible, or the combined key was refused).
   */
  private async transmitSealed(
    groupId: string,
    request: SendMultiRequest,
    ciphertext: Uint8Array,
  ): Promise<MultiSendOutcome | null> {
    const sealed = this.pairwise.sealed;
    const combined = new Uint8Array(16);
    for (const recipient of request.recipients) {
      const key = await sealed.usableAccessKey(recipient.accountId);
      if (!key) return null;
      fromBase64Bytes(key).forEach((byte, i) => (combined[i] = (combined[i] as number) ^ byte));
    }
    const certificate: SenderCertificate | null = await sealed.senderCertificate();
    if (!certificate) return null;
    const zone = newZone(this.ctx);
    const content = UnidentifiedSenderMessageContent.new(
      { type: () => CiphertextMessageType.SenderKey, serialize: () => ciphertext },
      certificate,
      ContentHint.Default,
      fromHex(groupId),
    );
    let message: Uint8Array;
    try {
      message = await sealedSenderMultiRecipientEncrypt({
        content,
        recipients: request.recipients.flatMap((r) =>
          r.devices.map((d) => ProtocolAddress.new(r.accountId, d.deviceId)),
        ),
        identityStore: zone.identityStore,
        sessionStore: zone.sessionStore,
      });
    } catch (error) {
      // A device without a usable session (or an identity that changed): this message goes identified.
      this.ctx.platform.logger.warn('cannot seal a group message', {
        error: error instanceof Error ? error.name : 'unknown',
      });
      return null;
    }
    this.onRequest();
    try {
      return await this.ctx.api.sendSealedMulti(
        {
          type: 'unidentified-sender',
          content: toBase64(message),
          timestamp: request.timestamp,
          ...(request.urgent === undefined ? {} : { urgent: request.urgent }),
        },
        toBase64(combined),
      );
    } catch (error) {
      if (!(error instanceof UnidentifiedAccessDeniedError)) throw error;
      this.ctx.platform.logger.info('sealed group send refused, sending identified', { groupId: groupId.slice(0, 8) });
      return null;
    }
  }

  /** The re-send log entry of an accepted group message: every device, with its member's identity key now. */
  private async logForResend(groupId: string, entry: OutboxEntry, recipients: MultiRecipient[]): Promise<void> {
    const { storage, clock } = this.ctx.platform;
    const devices: ResendDevice[] = [];
    for (const recipient of recipients) {
      const identity = await storage.get('identities', recipient.accountId);
      if (!identity) continue;
      for (const device of recipient.devices)
        devices.push({
          accountId: recipient.accountId,
          deviceId: device.deviceId,
          identityKey: new Uint8Array(identity.publicKey),
          resent: 0,
        });
    }
    const now = clock.now();
    const peer = `group:${groupId}`;
    const logged: ResendLogEntry = {
      peer,
      timestamp: entry.timestamp,
      content: entry.content,
      devices,
      createdAt: now,
      expiresAt: now + RESEND_WINDOW_MS,
    };
    const writes: WriteOp[] = [
      { op: 'put', table: 'resendLog', key: groupResendLogKey(entry.timestamp), value: logged },
      {
        op: 'put',
        table: 'resendLog',
        key: resendExpiryKey(logged.expiresAt, peer, entry.timestamp),
        value: groupResendLogKey(entry.timestamp),
      },
    ];
    await storage.commit(writes);
  }
}

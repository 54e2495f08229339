/**
 * Contacts and trust: naming a peer (username, account id or direct conversation id) by its account id, asking the
 * server only for unknown usernames; the peer's identity key with its trust state and safety number (learned on
 * first use by building sessions with its devices); verification against the digits the user compared; forgetting
 * a peer's sessions. Everything that writes runs under the peer's lock and commits once. It sends no messages.
 */
import type { MessengerContext } from './context.js';
import { newZone, peerLock } from './context.js';
import { validateUsername } from './account.js';
import { ClientError, ClientErrorCode, SafetyNumberMismatchError } from './errors.js';
import { putConversation } from './history.js';
import type { WriteOp } from './platform.js';
import type { TrustLevel } from './tables.js';
import { directConversationId, directPeerOf } from './tables.js';
import { connectDevices, contactOrNew, putContactDevices } from './recipients.js';
import { computeSafetyNumber } from './trust.js';
import type { SafetyNumber } from './trust.js';

/** An account id (the server's UUIDs). */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ContactIdentity = {
  accountId: string;
  username: string | null;
  trust: TrustLevel | 'unknown';
  /** Sending is blocked until verify(): a verified key changed. */
  blocked: boolean;
  changedAt: number | null;
  safetyNumber: SafetyNumber | null;
};

/**
 * Resolves a username (asking the server) or an account id to an account id, remembering the username as the
 * server spells it (its owner's spelling), whatever case was typed: one canonical spelling, so a chat's title does
 * not change with each lookup.
 */
export const resolvePeer = async (ctx: MessengerContext, peer: string): Promise<string> => {
  if (UUID.test(peer)) return peer.toLowerCase();
  validateUsername(peer);
  const found = await ctx.api.findUsername(peer);
  if (!found) throw new ClientError(ClientErrorCode.UnknownUser, `no account has the username ${peer}`);
  const { accountId } = found;
  const username = found.username;
  await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const { storage, clock } = ctx.platform;
    const contact = await storage.get('contacts', accountId);
    const writes: WriteOp[] = [
      { op: 'put', table: 'usernames', key: username.toLowerCase(), value: accountId },
      {
        op: 'put',
        table: 'contacts',
        key: accountId,
        value: { accountId, devices: null, ...contact, username, updatedAt: clock.now() },
      },
    ];
    const conversation = await storage.get('conversations', directConversationId(accountId));
    if (conversation && conversation.peerUsername !== username)
      writes.push(putConversation({ ...conversation, peerUsername: username }));
    await storage.commit(writes);
  });
  return accountId;
};

/**
 * The account id for a peer — a username, an account id or a direct conversation id — without asking the server
 * when the username is already known.
 */
export const resolveCached = async (ctx: MessengerContext, peer: string): Promise<string> => {
  const direct = directPeerOf(peer);
  if (direct !== null && UUID.test(direct)) return direct.toLowerCase();
  if (UUID.test(peer)) return peer.toLowerCase();
  const cached = await ctx.platform.storage.get('usernames', peer.toLowerCase());
  return cached ?? resolvePeer(ctx, peer);
};

/** The peer's identity state and safety number (null until a session was made or a key fetched). */
export const contactIdentity = async (ctx: MessengerContext, peer: string): Promise<ContactIdentity> => {
  const accountId = await resolveCached(ctx, peer);
  let identity = await ctx.platform.storage.get('identities', accountId);
  if (!identity) {
    await fetchIdentity(ctx, accountId);
    identity = await ctx.platform.storage.get('identities', accountId);
  }
  const contact = await ctx.platform.storage.get('contacts', accountId);
  return {
    accountId,
    username: contact?.username ?? null,
    trust: identity?.trust ?? 'unknown',
    blocked: identity?.blocked ?? false,
    changedAt: identity?.changedAt ?? null,
    safetyNumber: identity ? computeSafetyNumber(ctx.account, accountId, identity) : null,
  };
};

/** Learns a peer's identity key by building sessions with its devices (trust on first use). */
const fetchIdentity = async (ctx: MessengerContext, accountId: string): Promise<void> => {
  await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const { storage, clock } = ctx.platform;
    if (await storage.get('identities', accountId)) return;
    const zone = newZone(ctx);
    const devices = await connectDevices(ctx, zone, accountId, 'all');
    const contact = contactOrNew(await storage.get('contacts', accountId), accountId, clock.now());
    await storage.commit([...zone.operations(), putContactDevices(contact, devices, clock.now())]);
  });
};

/** The 60-digit safety number shared with a peer. */
export const safetyNumberWith = async (ctx: MessengerContext, peer: string): Promise<SafetyNumber> => {
  const identity = await contactIdentity(ctx, peer);
  if (!identity.safetyNumber)
    throw new ClientError(ClientErrorCode.UnknownUser, 'no identity key known for this contact');
  return identity.safetyNumber;
};

/**
 * Marks the peer's identity key verified — the key whose safety number is `expected`, the 60 digits the user
 * compared (spaces allowed, as displayed). The digits are checked against the key held at the moment it is marked,
 * under the peer's lock, so a key that changed after the number was shown is never marked: that, or any other
 * difference, throws SafetyNumberMismatchError and changes nothing. Unblocks sending after a change.
 */
export const verifyContact = async (
  ctx: MessengerContext,
  peer: string,
  expected: string,
): Promise<ContactIdentity> => {
  if (typeof expected !== 'string')
    throw new ClientError(ClientErrorCode.InvalidInput, 'pass the safety number the user compared');
  const digits = expected.replace(/\s+/g, '');
  if (!/^\d{60}$/.test(digits)) throw new ClientError(ClientErrorCode.InvalidInput, 'a safety number is 60 digits');
  const identity = await contactIdentity(ctx, peer);
  const { storage } = ctx.platform;
  const verified = await ctx.platform.locks.withLock(peerLock(identity.accountId), async () => {
    const current = await storage.get('identities', identity.accountId);
    if (!current) throw new ClientError(ClientErrorCode.UnknownUser, 'no identity key known for this contact');
    const safetyNumber = computeSafetyNumber(ctx.account, identity.accountId, current);
    if (safetyNumber.digits !== digits) throw new SafetyNumberMismatchError(identity.accountId);
    await storage.commit([
      {
        op: 'put',
        table: 'identities',
        key: identity.accountId,
        value: { ...current, trust: 'verified', blocked: false },
      },
    ]);
    return { safetyNumber, changedAt: current.changedAt };
  });
  return { ...identity, ...verified, trust: 'verified', blocked: false };
};

/** Forgets every session with a peer (they are rebuilt from fresh bundles on the next send). */
export const resetSessions = async (ctx: MessengerContext, peer: string): Promise<void> => {
  const accountId = await resolveCached(ctx, peer);
  await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const sessions = await ctx.platform.storage.list('sessions', { prefix: `${accountId}.` });
    await ctx.platform.storage.commit(
      sessions.map(({ key }) => ({ op: 'delete' as const, table: 'sessions' as const, key })),
    );
  });
};

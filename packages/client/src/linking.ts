/**
 * Linking a device to an account. The new device (`linkNewDevice`) makes an ephemeral X25519 key pair, opens the
 * server's provisioning channel, shows the link URI `cove://link?uuid=<channel address>&pub_key=<public key>` and
 * waits for the one message the channel relays; it opens it with the provisioning cipher (docs/linking.md), refuses
 * one that does not authenticate, is not for this channel or is older than a channel lives, and registers itself
 * with the provisioning code inside (`POST /v1/devices`) with its own fresh prekeys, storing the account's identity
 * key pair and the contacts with their trust states in one commit. The existing device (`sendProvisioning`) parses
 * the URI, asks the server for a fresh provisioning code (primary only), and seals and relays the message. It does
 * not ask the user to confirm: that is the caller's (CLI, PWA) business before calling it.
 */
import {
  IdentityKeyPair,
  PrivateKey,
  PublicKey,
  equalBytes,
  openProvisioningMessage,
  sealProvisioningMessage,
} from '@cove/crypto';
import {
  PROVISIONING_CHANNEL_TTL_MS,
  ProvisioningAddress,
  ProvisioningPayload,
  ProvisioningServerFrame,
  fromBase64,
  toBase64,
  type HistoryArchivePointer,
  type ProvisionedContact,
} from '@cove/protocol';

import type { ApiClient } from './api-client.js';
import { ClientError, ClientErrorCode, ServerResponseError } from './errors.js';
import type { Platform, WriteOp } from './platform.js';
import { metaPut, readMeta } from './meta.js';
import type { AccountRecord, IdentityEntry, OrganizationRecord } from './tables.js';

/** A provisioning message may have waited on the channel at most this long, plus clock skew between devices. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder('utf-8', { fatal: true });

const base64Url = (bytes: Uint8Array): string =>
  toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

const fromBase64Url = (text: string): Uint8Array => {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const standard = text.replace(/-/g, '+').replace(/_/g, '/');
  return fromBase64(standard + '='.repeat((4 - (standard.length % 4)) % 4));
};

export type LinkUri = { address: string; publicKey: PublicKey };

/** `cove://link?uuid=…&pub_key=…` for a channel address and the new device's ephemeral public key. */
export const formatLinkUri = (address: string, publicKey: PublicKey): string =>
  `cove://link?uuid=${address}&pub_key=${base64Url(publicKey.serialize())}`;

/** Parses a link URI; anything else is `invalid_input`. */
export const parseLinkUri = (uri: string): LinkUri => {
  const invalid = (): never => {
    throw new ClientError(ClientErrorCode.InvalidInput, 'not a Cove link URI (cove://link?uuid=…&pub_key=…)');
  };
  const match = /^cove:\/\/link\?(.*)$/.exec(uri.trim());
  if (!match) return invalid();
  const params = new URLSearchParams(match[1]);
  const address = params.get('uuid') ?? '';
  const key = params.get('pub_key') ?? '';
  if (!ProvisioningAddress.safeParse(address).success) return invalid();
  try {
    return { address, publicKey: PublicKey.deserialize(fromBase64Url(key)) };
  } catch {
    return invalid();
  }
};

/** What the existing device hands over (and an account backup holds), read from its storage. */
export const provisionedContacts = async (platform: Platform, self: string): Promise<ProvisionedContact[]> => {
  const contacts = await platform.storage.list('contacts');
  const out: ProvisionedContact[] = [];
  for (const { value: contact } of contacts) {
    if (contact.accountId === self) continue;
    const identity = await platform.storage.get('identities', contact.accountId);
    out.push({
      accountId: contact.accountId,
      username: contact.username,
      identityKey: identity ? toBase64(identity.publicKey) : null,
      trust: identity?.trust ?? 'trusted-first-use',
      blocked: identity?.blocked ?? false,
      ...(contact.profileKey ? { profileKey: toBase64(contact.profileKey) } : {}),
    });
  }
  return out;
};

/** The existing side: seals the account to the device waiting behind `uri` and relays it. */
export const sendProvisioning = async (
  platform: Platform,
  api: ApiClient,
  account: AccountRecord,
  username: string | null,
  uri: string,
  ownProfileKey?: Uint8Array,
  history?: HistoryArchivePointer,
): Promise<void> => {
  const link = parseLinkUri(uri);
  const organization = await readMeta(platform.storage, 'organization');
  let provisioningCode: string;
  try {
    provisioningCode = await api.provisioningCode();
  } catch (error) {
    if (error instanceof ServerResponseError && error.errorCode === 'forbidden')
      throw new ClientError(ClientErrorCode.NotPrimary, 'only the primary device can link new devices');
    throw error;
  }
  const payload: ProvisioningPayload = {
    version: 1,
    createdAt: platform.clock.now(),
    accountId: account.accountId,
    username,
    identityKeyPair: toBase64(account.identityKeyPair),
    provisioningCode,
    contacts: await provisionedContacts(platform, account.accountId),
    ...(ownProfileKey ? { profileKey: toBase64(ownProfileKey) } : {}),
    ...(history ? { history } : {}),
    ...(organization
      ? {
          organizationKey: {
            publicKey: toBase64(organization.pinnedKey),
            ...(organization.privateKey ? { privateKey: toBase64(organization.privateKey) } : {}),
          },
        }
      : {}),
  };
  const sealed = sealProvisioningMessage(link.publicKey, link.address, utf8.encode(JSON.stringify(payload)), (n) =>
    platform.random.bytes(n),
  );
  try {
    await api.sendProvisioningMessage(link.address, sealed);
  } catch (error) {
    if (error instanceof ServerResponseError && error.errorCode === 'not_found')
      throw new ClientError(ClientErrorCode.LinkFailed, 'the new device is no longer waiting (expired or used link)');
    throw error;
  }
};

/** An opened, checked provisioning message. */
export type Provisioned = {
  accountId: string;
  username: string | null;
  identity: IdentityKeyPair;
  provisioningCode: string;
  /** The contacts, identities and usernames to store with the new device. */
  writes: WriteOp[];
  /** The account's profile key (absent when the existing device sent none: this device then makes one). */
  profileKey?: Uint8Array;
  /** Where the history archive is, when the existing device sends one (history-transfer.ts). */
  history?: HistoryArchivePointer;
};

/**
 * The storage writes of received contacts (a provisioning message's, an account backup's): contacts, usernames and
 * identities with their trust states; `fail` is called (and throws) on a bad key.
 */
export const contactWrites = (
  contacts: readonly ProvisionedContact[],
  self: string,
  now: number,
  fail: (why: string) => never,
): WriteOp[] => {
  const profileKeyOf = (text: string | undefined): Uint8Array | undefined => {
    if (text === undefined) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(text);
    } catch {
      return fail('bad profile key');
    }
    return bytes.length === 32 ? bytes : fail('bad profile key');
  };
  const writes: WriteOp[] = [];
  for (const contact of contacts) {
    if (contact.accountId === self) continue;
    const contactKey = profileKeyOf(contact.profileKey);
    writes.push({
      op: 'put',
      table: 'contacts',
      key: contact.accountId,
      value: {
        accountId: contact.accountId,
        username: contact.username,
        devices: null,
        updatedAt: now,
        ...(contactKey ? { profileKey: contactKey } : {}),
      },
    });
    if (contact.username)
      writes.push({ op: 'put', table: 'usernames', key: contact.username.toLowerCase(), value: contact.accountId });
    if (contact.identityKey) {
      let key: Uint8Array;
      try {
        key = PublicKey.deserialize(fromBase64(contact.identityKey)).serialize();
      } catch {
        return fail('bad contact identity key');
      }
      const entry: IdentityEntry = {
        publicKey: key,
        trust: contact.trust,
        firstSeenAt: now,
        changedAt: null,
        blocked: contact.blocked,
      };
      writes.push({ op: 'put', table: 'identities', key: contact.accountId, value: entry });
    }
  }
  return writes;
};

/** Opens and checks a provisioning message received on channel `address`; anything wrong is `link_failed`. */
export const openProvisioning = (
  ephemeral: PrivateKey,
  address: string,
  sealed: Uint8Array,
  now: number,
): Provisioned => {
  const fail = (why: string): never => {
    throw new ClientError(ClientErrorCode.LinkFailed, `refused the provisioning message: ${why}`);
  };
  let plaintext: Uint8Array;
  try {
    plaintext = openProvisioningMessage(ephemeral, address, sealed);
  } catch {
    return fail('it does not authenticate');
  }
  let parsed: ProvisioningPayload;
  try {
    const result = ProvisioningPayload.safeParse(JSON.parse(fromUtf8.decode(plaintext)));
    if (!result.success) return fail('malformed content');
    parsed = result.data;
  } catch {
    return fail('malformed content');
  }
  if (parsed.createdAt < now - PROVISIONING_CHANNEL_TTL_MS - MAX_CLOCK_SKEW_MS) return fail('too old');
  if (parsed.createdAt > now + MAX_CLOCK_SKEW_MS) return fail('from the future');
  let identity: IdentityKeyPair;
  try {
    identity = IdentityKeyPair.deserialize(fromBase64(parsed.identityKeyPair));
  } catch {
    return fail('bad identity key');
  }
  const profileKeyOf = (text: string | undefined): Uint8Array | undefined => {
    if (text === undefined) return undefined;
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(text);
    } catch {
      return fail('bad profile key');
    }
    return bytes.length === 32 ? bytes : fail('bad profile key');
  };
  const profileKey = profileKeyOf(parsed.profileKey);
  const writes = contactWrites(parsed.contacts, parsed.accountId, now, fail);
  if (parsed.organizationKey) {
    const { publicKey, privateKey } = parsed.organizationKey;
    let record: OrganizationRecord;
    try {
      const pinned = PublicKey.deserialize(fromBase64(publicKey));
      const secret = privateKey === undefined ? null : PrivateKey.deserialize(fromBase64(privateKey));
      if (secret && !equalBytes(secret.getPublicKey().serialize(), pinned.serialize()))
        return fail('organization key halves do not match');
      record = {
        pinnedKey: pinned.serialize(),
        pinnedAt: now,
        presentedKey: null,
        privateKey: secret ? secret.serialize() : null,
        auditHead: null,
      };
    } catch {
      return fail('bad organization key');
    }
    writes.push(metaPut('organization', record));
  }
  return {
    accountId: parsed.accountId,
    username: parsed.username,
    identity,
    provisioningCode: parsed.provisioningCode,
    writes,
    ...(profileKey ? { profileKey } : {}),
    ...(parsed.history ? { history: parsed.history } : {}),
  };
};

/**
 * The new side's channel: opens `/v1/provisioning`, reports the link URI, resolves with the one sealed message and
 * the channel address (or rejects when the channel closes or expires first, or `signal` aborts: the channel is then
 * closed, so a message sent afterwards links nothing).
 */
export const waitForProvisioning = (
  platform: Platform,
  api: ApiClient,
  ephemeral: PrivateKey,
  onLinkUri: (uri: string) => void,
  signal?: AbortSignal,
): Promise<{ address: string; sealed: Uint8Array }> =>
  new Promise((resolve, reject) => {
    let address: string | null = null;
    let settled = false;
    const cancelled = (): ClientError => new ClientError(ClientErrorCode.LinkFailed, 'linking was cancelled');
    if (signal?.aborted) {
      reject(cancelled());
      return;
    }
    const settle = (run: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      run();
    };
    const socket = platform.sockets.connect(api.provisioningUrl);
    // Giving up closes the channel at once: nothing sent to it afterwards can link this device.
    const onAbort = (): void =>
      settle(() => {
        socket.close(1000, 'cancelled');
        reject(cancelled());
      });
    signal?.addEventListener('abort', onAbort);
    socket.onOpen = () => undefined;
    socket.onError = () =>
      settle(() => reject(new ClientError(ClientErrorCode.ServerUnreachable, 'cannot reach the provisioning channel')));
    socket.onClose = (code, reason) =>
      settle(() =>
        reject(
          new ClientError(
            code === 4008 ? ClientErrorCode.LinkFailed : ClientErrorCode.ServerUnreachable,
            code === 4008
              ? 'the link expired before a device used it'
              : `provisioning channel closed (${code} ${reason})`,
          ),
        ),
      );
    socket.onMessage = (text) => {
      let frame: ProvisioningServerFrame;
      try {
        const parsed = ProvisioningServerFrame.safeParse(JSON.parse(text));
        if (!parsed.success) throw new Error('bad frame');
        frame = parsed.data;
      } catch {
        socket.close(1000, 'bad frame');
        settle(() => reject(new ClientError(ClientErrorCode.ServerError, 'the provisioning channel sent a bad frame')));
        return;
      }
      if (frame.type === 'provisioning-address') {
        if (address !== null) return;
        address = frame.address;
        onLinkUri(formatLinkUri(frame.address, ephemeral.getPublicKey()));
        return;
      }
      const at = address;
      if (at === null) return;
      let sealed: Uint8Array;
      try {
        sealed = fromBase64(frame.body);
      } catch {
        settle(() => reject(new ClientError(ClientErrorCode.LinkFailed, 'refused the provisioning message')));
        return;
      }
      settle(() => resolve({ address: at, sealed }));
      socket.close(1000, 'received');
    };
  });

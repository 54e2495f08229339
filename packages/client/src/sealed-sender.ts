/**
 * Sealed sender in the client core: which recipients we may send to without naming ourselves (their unidentified
 * access key is known — `accessKeyFor`: derived from the profile key they sent us, unless one was set explicitly with
 * `setAccessKey` — and the server has not refused it; or, for a 1:1 send to someone whose key we do not hold, a try
 * with Signal's "unrestricted" key of 16 zero bytes, which only an account open to anyone accepts: a refusal sends
 * identified at once and for {@link SEALED_PROBE_RETRY_MS}), this device's sender certificate (fetched from
 * `GET /v1/certificate/delivery`, cached in `meta`, refreshed well before it expires), the server's trust root (read
 * from `/v1/info` and pinned on first use: a later different one is refused), sealing 1:1 ciphertexts (v1) for their
 * devices, unsealing received `unidentified-sender` envelopes back into ordinary ones after checking the certificate
 * against the pinned trust root at the envelope's server time and against the identity key we hold for that sender
 * (or, for a PreKey message, the key it carries), and our own account's setting "accept sealed messages from anyone
 * or only from contacts" (the server's `unrestrictedUnidentifiedAccess`, which it enforces; cached in `meta`). It does
 * not send, queue or decide retries (the outbox does), and does not upload our own access key (the profile layer does). */
import {
  CiphertextMessageType,
  ContentHint,
  PreKeySignalMessage,
  ProtocolAddress,
  PublicKey,
  SenderCertificate,
  UnidentifiedSenderMessageContent,
  deriveAccessKey,
  sealedSenderDecryptToUsmc,
  sealedSenderEncrypt,
  type SealableMessage,
} from '@cove/crypto';
import { fromBase64, toBase64 } from '@cove/protocol';
import type { Envelope, EnvelopeType, OutgoingMessage } from '@cove/protocol';

import { SEALED_PROBE_RETRY_MS, SENDER_CERTIFICATE_REFRESH_MS } from './constants.js';
import type { MessengerContext } from './context.js';
import { emit, newZone } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import type { WriteOp } from './platform.js';
import type { ProtocolZone } from './protocol-zone.js';

/** `meta` keys: the pinned trust root (base64), the cached certificate (base64), per-peer keys and refusals. */
export const TRUST_ROOT_META_KEY = 'sealed/trust-root';
export const CERTIFICATE_META_KEY = 'sealed/certificate';
const accessKeyMetaKey = (accountId: string): string => `sealed/access/${accountId}`;
const deniedMetaKey = (accountId: string): string => `sealed/denied/${accountId}`;
const probeDeniedMetaKey = (accountId: string): string => `sealed/probe-denied/${accountId}`;
/** `meta` key of our own account's setting as last read from or written to the server. */
export const ACCEPT_SETTING_META_KEY = 'sealed/accept';

/**
 * Who may send this account sealed messages: `contacts` (the default: only holders of our profile key, whose access
 * key the server checks) or `anyone` (the server takes a sealed send with any key).
 */
export type SealedSenderSetting = 'anyone' | 'contacts';

/** How to send 1:1 sealed: the access key (base64), and whether it is the keyless try (no key of theirs known). */
export type SealedAccess = { accessKey: string; probe: boolean };

/** The write that forgets a refusal of our key for `accountId` (taken with a new profile key of theirs). */
export const forgetRefusal = (accountId: string): WriteOp => ({
  op: 'delete',
  table: 'meta',
  key: deniedMetaKey(accountId),
});

/** Bytes of an unidentified access key. */
const ACCESS_KEY_BYTES = 16;
/**
 * The key sent to an account whose real key we do not hold: 16 zero bytes, as Signal's clients send ("unrestricted
 * access"). The server accepts any key for an account open to anyone; for any other the derived key would have to
 * be all zeros (probability 2^-128), so this one is refused.
 */
const UNRESTRICTED_ACCESS_KEY = toBase64(new Uint8Array(ACCESS_KEY_BYTES));

const INNER_TYPES: ReadonlyMap<number, EnvelopeType> = new Map([
  [CiphertextMessageType.PreKey, 'prekey'],
  [CiphertextMessageType.Whisper, 'whisper'],
  [CiphertextMessageType.SenderKey, 'senderkey'],
]);
const OUTER_TYPES: ReadonlyMap<string, number> = new Map([
  ['prekey', CiphertextMessageType.PreKey],
  ['whisper', CiphertextMessageType.Whisper],
]);

/** Why a sealed envelope was refused (for logs and tests: no sender can be named, we do not know it). */
export type UnsealRefusal = 'unreadable' | 'certificate_invalid' | 'self' | 'identity_mismatch' | 'unsupported';

export type Unsealed = { ok: true; envelope: Envelope } | { ok: false; reason: UnsealRefusal };

export class SealedSender {
  private certificate: SenderCertificate | null = null;
  /**
   * Changes of our accept setting started here (counted when one starts and again when it ends), and how many are
   * still on their way: a read of the server's setting that overlapped one may predate it, and is not kept.
   */
  private acceptWrites = 0;
  private acceptWritesInFlight = 0;

  constructor(private readonly ctx: MessengerContext) {}

  /**
   * The recipient's unidentified access key: one set explicitly with {@link setAccessKey}, else the one derived from
   * the profile key they sent us (docs/profiles.md); undefined while we hold neither.
   */
  async accessKeyFor(accountId: string): Promise<Uint8Array | undefined> {
    const { storage } = this.ctx.platform;
    // Both at once: one storage round trip (on a browser, one IndexedDB transaction) on every send.
    const [stored, contact] = await Promise.all([
      storage.get('meta', accessKeyMetaKey(accountId)),
      storage.get('contacts', accountId),
    ]);
    if (typeof stored === 'string') return new Uint8Array(fromBase64(stored));
    const profileKey = contact?.profileKey;
    return profileKey ? deriveAccessKey(profileKey) : undefined;
  }

  /**
   * Records (or with null forgets) an explicit access key for the recipient, which then wins over the one derived
   * from their profile key; a new key lifts an earlier refusal.
   */
  async setAccessKey(accountId: string, key: Uint8Array | null): Promise<void> {
    if (key !== null && key.length !== ACCESS_KEY_BYTES)
      throw new ClientError(ClientErrorCode.InvalidInput, `an unidentified access key has ${ACCESS_KEY_BYTES} bytes`);
    await this.ctx.platform.storage.commit([
      key === null
        ? { op: 'delete', table: 'meta', key: accessKeyMetaKey(accountId) }
        : { op: 'put', table: 'meta', key: accessKeyMetaKey(accountId), value: toBase64(key) },
      { op: 'delete', table: 'meta', key: deniedMetaKey(accountId) },
    ]);
  }

  /**
   * Remembers that the server refused our key for this recipient: later sends go identified until a new key (or,
   * when it was the keyless try, for {@link SEALED_PROBE_RETRY_MS}).
   */
  async markDenied(accountId: string, probe = false): Promise<void> {
    this.ctx.platform.logger.info('sealed sender refused, sending identified', { accountId, probe });
    const key = probe ? probeDeniedMetaKey(accountId) : deniedMetaKey(accountId);
    await this.ctx.platform.storage.commit([{ op: 'put', table: 'meta', key, value: this.ctx.platform.clock.now() }]);
  }

  /**
   * How to send 1:1 to this recipient sealed: with their access key when we hold one (and it was not refused), else
   * with the unrestricted key unless that was refused less than {@link SEALED_PROBE_RETRY_MS} ago; undefined to send
   * identified (always for our own account: the server knows our devices belong together).
   */
  async sendAccess(accountId: string): Promise<SealedAccess | undefined> {
    if (accountId === this.ctx.account.accountId) return undefined;
    const { storage, clock } = this.ctx.platform;
    // Everything that decides it, read at once (snapshot reads: one round trip instead of three in a row).
    const [key, denied, refused] = await Promise.all([
      this.accessKeyFor(accountId),
      storage.get('meta', deniedMetaKey(accountId)),
      storage.get('meta', probeDeniedMetaKey(accountId)),
    ]);
    if (key) {
      if (denied) return undefined;
      return { accessKey: toBase64(key), probe: false };
    }
    if (typeof refused === 'number' && clock.now() - refused < SEALED_PROBE_RETRY_MS) return undefined;
    return { accessKey: UNRESTRICTED_ACCESS_KEY, probe: true };
  }

  /** Our own setting as this device last saw it (`contacts` until read from the server). */
  async acceptSetting(): Promise<SealedSenderSetting> {
    const stored = await this.ctx.platform.storage.get('meta', ACCEPT_SETTING_META_KEY);
    return stored === 'anyone' ? 'anyone' : 'contacts';
  }

  /**
   * Reads our setting from the server (where every device of the account sets it) and keeps it here; a change (made
   * on another device) is announced with `account-settings-updated`.
   */
  async refreshAcceptSetting(): Promise<SealedSenderSetting> {
    const writes = this.acceptWritesInFlight > 0 ? -1 : this.acceptWrites;
    const { unrestrictedUnidentifiedAccess } = await this.ctx.api.accountAttributes();
    // A change made here while the read was on its way is newer than what it read (or may be): it keeps its own.
    if (writes !== this.acceptWrites) return this.acceptSetting();
    const setting: SealedSenderSetting = unrestrictedUnidentifiedAccess ? 'anyone' : 'contacts';
    await this.keepAcceptSetting(setting);
    return setting;
  }

  /** Sets our setting on the server (which enforces it) and keeps it here once the server took it. */
  async setAcceptSetting(setting: SealedSenderSetting): Promise<void> {
    this.acceptWrites += 1;
    this.acceptWritesInFlight += 1;
    try {
      await this.ctx.api.setAccountAttributes({ unrestrictedUnidentifiedAccess: setting === 'anyone' });
      await this.keepAcceptSetting(setting);
    } finally {
      this.acceptWritesInFlight -= 1;
      this.acceptWrites += 1;
    }
  }

  private async keepAcceptSetting(setting: SealedSenderSetting): Promise<void> {
    const { storage } = this.ctx.platform;
    const before: unknown = await storage.get('meta', ACCEPT_SETTING_META_KEY);
    if (before === setting) return;
    await storage.commit([{ op: 'put', table: 'meta', key: ACCEPT_SETTING_META_KEY, value: setting }]);
    // The first read of the default is no change worth announcing.
    if (before !== undefined || setting !== 'contacts')
      emit(this.ctx, { type: 'account-settings-updated', sealedSender: setting });
  }

  /**
   * The access key (base64) held for this recipient and not refused, or undefined: what a sealed group (v2) send
   * combines; it never uses the keyless try (one refusal would send the whole group message identified).
   */
  async usableAccessKey(accountId: string): Promise<string | undefined> {
    if (accountId === this.ctx.account.accountId) return undefined;
    if (await this.ctx.platform.storage.get('meta', deniedMetaKey(accountId))) return undefined;
    const key = await this.accessKeyFor(accountId);
    return key ? toBase64(key) : undefined;
  }

  /**
   * This device's sender certificate, valid for at least {@link SENDER_CERTIFICATE_REFRESH_MS} more; fetched when the
   * cached one is older. Null when the server cannot give one (unreachable, or a server without sealed sender).
   */
  async senderCertificate(): Promise<SenderCertificate | null> {
    const { storage, clock } = this.ctx.platform;
    const fresh = (c: SenderCertificate | null): c is SenderCertificate =>
      c !== null && c.expiration() - clock.now() > SENDER_CERTIFICATE_REFRESH_MS;
    if (fresh(this.certificate)) return this.certificate;
    const cached = await storage.get('meta', CERTIFICATE_META_KEY);
    if (typeof cached === 'string') {
      const parsed = SenderCertificate.deserialize(new Uint8Array(fromBase64(cached)));
      if (fresh(parsed)) return (this.certificate = parsed);
    }
    try {
      const root = await this.trustRoot();
      const response = await this.ctx.api.senderCertificate();
      const certificate = SenderCertificate.deserialize(new Uint8Array(fromBase64(response.certificate)));
      const own =
        certificate.senderUuid() === this.ctx.account.accountId &&
        certificate.senderDeviceId() === this.ctx.account.deviceId;
      if (!root || !own || !certificate.validate(root, clock.now())) return null;
      await storage.commit([{ op: 'put', table: 'meta', key: CERTIFICATE_META_KEY, value: response.certificate }]);
      return (this.certificate = certificate);
    } catch (error) {
      this.ctx.platform.logger.warn('no sender certificate', {
        error: error instanceof Error ? error.name : 'unknown',
      });
      return null;
    }
  }

  /** The server's trust root, pinned the first time it is read; null when the server publishes none. */
  async trustRoot(): Promise<PublicKey | null> {
    const { storage } = this.ctx.platform;
    const pinned = await storage.get('meta', TRUST_ROOT_META_KEY);
    if (typeof pinned === 'string') return PublicKey.deserialize(new Uint8Array(fromBase64(pinned)));
    const published = (await this.ctx.api.info()).sealedSenderTrustRoot;
    if (!published) return null;
    const key = PublicKey.deserialize(new Uint8Array(fromBase64(published)));
    await storage.commit([{ op: 'put', table: 'meta', key: TRUST_ROOT_META_KEY, value: published }]);
    return key;
  }

  /** Seals each device's 1:1 ciphertext (v1) to that device's identity key, under our certificate. */
  async seal(
    zone: ProtocolZone,
    accountId: string,
    messages: OutgoingMessage[],
    certificate: SenderCertificate,
  ): Promise<OutgoingMessage[]> {
    const sealed: OutgoingMessage[] = [];
    for (const m of messages) {
      const type = OUTER_TYPES.get(m.type);
      if (type === undefined) throw new ClientError(ClientErrorCode.InvalidInput, `cannot seal a ${m.type} message`);
      const inner = new Uint8Array(fromBase64(m.content));
      const message: SealableMessage = { type: () => type, serialize: () => inner };
      const content = UnidentifiedSenderMessageContent.new(message, certificate, ContentHint.Default, null);
      const address = ProtocolAddress.new(accountId, m.destinationDeviceId);
      const bytes = await sealedSenderEncrypt(content, address, zone.identityStore);
      sealed.push({ ...m, type: 'unidentified-sender', content: toBase64(bytes) });
    }
    return sealed;
  }

  /**
   * Opens an `unidentified-sender` envelope into the ordinary envelope it carries (its sender from the certificate),
   * or refuses it: unreadable, a certificate not valid under the pinned trust root at the envelope's server time,
   * one from this very device, or one whose identity key is not the one its message is authenticated against (for a
   * PreKey message the key it carries, for a whisper message the key of our session with that device). Writes nothing.
   */
  async unseal(envelope: Envelope): Promise<Unsealed> {
    const zone = newZone(this.ctx);
    let content: UnidentifiedSenderMessageContent;
    try {
      content = await sealedSenderDecryptToUsmc(new Uint8Array(fromBase64(envelope.content)), zone.identityStore);
    } catch {
      return { ok: false, reason: 'unreadable' };
    }
    const certificate = content.senderCertificate();
    let root: PublicKey | null;
    try {
      root = await this.trustRoot();
    } catch {
      root = null;
    }
    if (!root || !certificate.validate(root, envelope.serverTimestamp))
      return { ok: false, reason: 'certificate_invalid' };
    const sender = certificate.senderUuid();
    const deviceId = certificate.senderDeviceId();
    if (sender === this.ctx.account.accountId && deviceId === this.ctx.account.deviceId)
      return { ok: false, reason: 'self' };
    const type = INNER_TYPES.get(content.msgType());
    if (!type) return { ok: false, reason: 'unsupported' };
    const inner = content.contents();
    let claimed: PublicKey | null;
    if (type === 'prekey') {
      try {
        claimed = PreKeySignalMessage.deserialize(inner).parsed.identityKey;
      } catch {
        return { ok: false, reason: 'unreadable' };
      }
    } else {
      // A whisper message is authenticated against the session's remote identity, so that is the key the certificate
      // must name (the stored identity may have been replaced meanwhile: the safety-number change is reported when the
      // inner message decrypts, as for an identified envelope).
      const address = ProtocolAddress.new(sender, deviceId);
      const session = await zone.sessionStore.getSession(address);
      claimed = session?.remoteIdentityKey() ?? (await zone.identityStore.getIdentity(address));
    }
    if (!claimed?.equals(certificate.key())) return { ok: false, reason: 'identity_mismatch' };
    return {
      ok: true,
      envelope: { ...envelope, type, sourceAccountId: sender, sourceDeviceId: deviceId, content: toBase64(inner) },
    };
  }
}

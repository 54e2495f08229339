/**
 * The store-bound sealed-sender API with libsignal-client's names and argument order: `sealedSenderEncrypt` (v1),
 * `sealedSenderEncryptMessage` (1:1 encrypt, then seal), `sealedSenderMultiRecipientEncrypt` (v2 sent form),
 * `sealedSenderDecryptToUsmc` (v1 or v2 received form → content) and `sealedSenderDecryptMessage`, which opens
 * the envelope, validates the sender certificate against the trust root at the caller's time, refuses self-sends,
 * requires the certificate's identity key to be the inner message's, then decrypts the inner 1:1 message with the
 * session cipher (stores change only if all of that succeeds). Sender-key and plaintext contents are not decrypted
 * here: open them with `sealedSenderDecryptToUsmc` and the matching cipher.
 */
import { SEALED_SENDER_V2_MAX_REGISTRATION_ID } from '../constants.js';
import { ProtocolAddress, type ServiceIdLike, serviceIdFixedWidth } from '../address.js';
import { ErrorCode, fail } from '../errors.js';
import type { PublicKey } from '../keys/curve.js';
import { concat } from '../primitives/hash.js';
import { type Rng, defaultRng } from '../primitives/random.js';
import { INSPECT_CUSTOM, REDACTED, type RedactedJson, describeRedacted, redactedJson } from '../redaction.js';
import { signalDecrypt, signalDecryptPreKey, signalEncrypt } from '../session/session-cipher.js';
import type {
  IdentityKeyStore,
  KyberPreKeyStore,
  PreKeyStore,
  SessionStore,
  SignedPreKeyStore,
} from '../storage/stores.js';
import { CiphertextMessageType, PreKeySignalMessage, SignalMessage } from '../wire/messages.js';
import type { SenderCertificate } from './certificates.js';
import { openV1, sealV1 } from './sealed-sender-v1.js';
import { SEALED_SENDER_V2_SENT_SERVICE_ID_VERSION_BYTE, openV2, sealV2 } from './sealed-sender-v2.js';
import { ContentHint, UnidentifiedSenderMessageContent } from './unidentified-content.js';

/** What `sealedSenderDecryptMessage` returns: the plaintext and who (by certificate) sent it. Prints no plaintext. */
export class SealedSenderDecryptionResult {
  readonly #message: Uint8Array;

  /** @internal */
  constructor(
    message: Uint8Array,
    private readonly sender: { uuid: string; e164: string | null; deviceId: number },
  ) {
    this.#message = message;
  }

  message(): Uint8Array {
    return this.#message.slice();
  }

  senderE164(): string | null {
    return this.sender.e164;
  }

  senderUuid(): string {
    return this.sender.uuid;
  }

  deviceId(): number {
    return this.sender.deviceId;
  }

  toJSON(): RedactedJson {
    return redactedJson('SealedSenderDecryptionResult', this.facts());
  }

  toString(): string {
    return describeRedacted('SealedSenderDecryptionResult', this.facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  private facts(): Record<string, string | number> {
    return { senderUuid: this.sender.uuid, deviceId: this.sender.deviceId, message: REDACTED };
  }
}

/** Seals `content` for `address` (v1), to the identity key the identity store holds for it. */
export async function sealedSenderEncrypt(
  content: UnidentifiedSenderMessageContent,
  address: ProtocolAddress,
  identityStore: IdentityKeyStore,
  rng: Rng = defaultRng,
): Promise<Uint8Array> {
  const recipient = await identityStore.getIdentity(address);
  if (!recipient) fail(ErrorCode.SessionNotFound, 'SealedSender_Encrypt', `no identity key for ${address.toString()}`);
  return sealV1(content.serialize(), await identityStore.getIdentityKeyPair(), recipient, rng);
}

/**
 * Encrypts `message` with the 1:1 session to `address` (our address is the certificate's sender and device), then
 * seals it (v1) with the default content hint and no group.
 */
export async function sealedSenderEncryptMessage(
  message: Uint8Array,
  address: ProtocolAddress,
  senderCert: SenderCertificate,
  sessionStore: SessionStore,
  identityStore: IdentityKeyStore,
  now: Date = new Date(),
  rng: Rng = defaultRng,
): Promise<Uint8Array> {
  const local = ProtocolAddress.new(senderCert.senderUuid(), senderCert.senderDeviceId());
  const inner = await signalEncrypt(message, address, local, sessionStore, identityStore, now, rng);
  const content = UnidentifiedSenderMessageContent.new(inner, senderCert, ContentHint.Default, null);
  return sealedSenderEncrypt(content, address, identityStore, rng);
}

export interface SealedSenderMultiRecipientEncryptOptions {
  content: UnidentifiedSenderMessageContent;
  recipients: ProtocolAddress[];
  excludedRecipients?: (string | ServiceIdLike)[];
  identityStore: IdentityKeyStore;
  sessionStore: SessionStore;
  rng?: Rng;
}

/**
 * Seals `content` once for many recipients (v2) and returns the sent form (0x23) the server fans out. Every
 * recipient address must be a ServiceId with a session (its registration id, at most 0x3FFF, goes on the wire);
 * devices of one ServiceId share its identity key.
 */
export async function sealedSenderMultiRecipientEncrypt(
  options: SealedSenderMultiRecipientEncryptOptions,
): Promise<Uint8Array>;
export async function sealedSenderMultiRecipientEncrypt(
  content: UnidentifiedSenderMessageContent,
  recipients: ProtocolAddress[],
  identityStore: IdentityKeyStore,
  sessionStore: SessionStore,
  rng?: Rng,
): Promise<Uint8Array>;
export async function sealedSenderMultiRecipientEncrypt(
  first: SealedSenderMultiRecipientEncryptOptions | UnidentifiedSenderMessageContent,
  recipients?: ProtocolAddress[],
  identityStore?: IdentityKeyStore,
  sessionStore?: SessionStore,
  rng?: Rng,
): Promise<Uint8Array> {
  const o: SealedSenderMultiRecipientEncryptOptions =
    first instanceof UnidentifiedSenderMessageContent
      ? {
          content: first,
          recipients: recipients ?? [],
          identityStore: identityStore as IdentityKeyStore,
          sessionStore: sessionStore as SessionStore,
          ...(rng ? { rng } : {}),
        }
      : first;
  const op = 'SealedSender_MultiRecipientEncrypt';

  // Group devices by ServiceId, in first-appearance order; gather each device's registration id from its session.
  const groups = new Map<string, { fixedWidth: Uint8Array; devices: { id: number; reg: number }[]; key: PublicKey }>();
  for (const address of o.recipients) {
    const fixedWidth = serviceIdFixedWidth(address.name());
    if (!fixedWidth)
      fail(ErrorCode.InvalidProtocolAddress, op, `not a ServiceId: ${address.name()}`, { addr: address.name() });
    const session = await o.sessionStore.getSession(address);
    if (!session || !session._currentState())
      fail(ErrorCode.SessionNotFound, op, `session with ${address.toString()} not found`);
    const reg = session.remoteRegistrationId();
    if (reg > SEALED_SENDER_V2_MAX_REGISTRATION_ID)
      fail(ErrorCode.InvalidRegistrationId, op, `invalid registration id ${reg} for ${address.toString()}`, {
        addr: address.name(),
      });
    const key = await o.identityStore.getIdentity(address);
    if (!key) fail(ErrorCode.SessionNotFound, op, `no identity key for ${address.toString()}`);
    const group = groups.get(address.name());
    if (!group) {
      groups.set(address.name(), { fixedWidth, devices: [{ id: address.deviceId(), reg }], key });
      continue;
    }
    if (!group.key.equals(key))
      fail(ErrorCode.InvalidArgument, op, `devices of ${address.name()} have different identity keys`);
    if (group.devices.some((d) => d.id === address.deviceId()))
      fail(ErrorCode.InvalidArgument, op, `${address.toString()} listed twice`);
    group.devices.push({ id: address.deviceId(), reg });
  }
  const excluded: Uint8Array[] = [];
  for (const e of o.excludedRecipients ?? []) {
    const name = typeof e === 'string' ? e : e.getServiceIdString();
    const fixedWidth = serviceIdFixedWidth(name);
    if (!fixedWidth) fail(ErrorCode.InvalidArgument, op, `not a ServiceId: ${name}`);
    if (groups.has(name)) fail(ErrorCode.InvalidArgument, op, `${name} is both a recipient and excluded`);
    excluded.push(concat(fixedWidth, Uint8Array.of(0)));
  }

  const sealing = sealV2(o.content.serialize(), await o.identityStore.getIdentityKeyPair(), o.rng ?? defaultRng);
  const parts: Uint8Array[] = [Uint8Array.of(SEALED_SENDER_V2_SENT_SERVICE_ID_VERSION_BYTE)];
  let count = groups.size + excluded.length;
  const countBytes: number[] = [];
  while (count >= 0x80) {
    countBytes.push((count & 0x7f) | 0x80);
    count >>>= 7;
  }
  countBytes.push(count);
  parts.push(Uint8Array.from(countBytes));
  for (const g of groups.values()) {
    parts.push(g.fixedWidth);
    g.devices.forEach((d, i) => {
      const packed = (i < g.devices.length - 1 ? 0x8000 : 0) | d.reg;
      parts.push(Uint8Array.of(d.id, packed >> 8, packed & 0xff));
    });
    parts.push(sealing.forRecipient(g.key));
  }
  parts.push(...excluded, sealing.ephemeralPublic, sealing.ciphertext);
  return concat(...parts);
}

/**
 * Opens a v1 or v2 (received form) envelope with our identity: the content, after checking the sender's
 * identity key (v1: the static layer's key; v2: the AT) is the certificate's. The certificate is not validated.
 */
export async function sealedSenderDecryptToUsmc(
  message: Uint8Array,
  identityStore: IdentityKeyStore,
): Promise<UnidentifiedSenderMessageContent> {
  const op = 'SealedSender_DecryptToUsmc';
  if (message.length === 0) fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: empty');
  const major = (message[0] as number) >> 4;
  const ours = await identityStore.getIdentityKeyPair();
  if (major === 0 || major === 1) {
    const { senderIdentity, usmc } = openV1(message.subarray(1), ours, op);
    const content = UnidentifiedSenderMessageContent.deserialize(usmc);
    if (!content.senderCertificate().key().equals(senderIdentity))
      fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: sender certificate key does not match');
    return content;
  }
  if (major === 2) {
    const opened = openV2(message, ours, op);
    const content = UnidentifiedSenderMessageContent.deserialize(opened.usmc);
    if (!opened.checkSender(content.senderCertificate().key()))
      fail(ErrorCode.InvalidMessage, op, 'invalid sealed sender message: sender authentication failed');
    return content;
  }
  return fail(ErrorCode.UnrecognizedCiphertextVersion, op, `unknown sealed sender message version <${major}>`);
}

/**
 * Opens a sealed envelope and decrypts the 1:1 message inside. Refused, with no store written: a certificate not
 * valid for `trustRoot` at `timestamp` (ms), a message from our own device (`SealedSenderSelfSend`), a certificate
 * whose identity key is not the inner message's (a PreKey message's identity key, or the identity we hold for that
 * sender), and anything the session cipher refuses.
 */
export async function sealedSenderDecryptMessage(
  message: Uint8Array,
  trustRoot: PublicKey,
  timestamp: number,
  localE164: string | null,
  localUuid: string,
  localDeviceId: number,
  sessionStore: SessionStore,
  identityStore: IdentityKeyStore,
  prekeyStore: PreKeyStore,
  signedPrekeyStore: SignedPreKeyStore,
  kyberPrekeyStore: KyberPreKeyStore,
  rng: Rng = defaultRng,
): Promise<SealedSenderDecryptionResult> {
  const op = 'SealedSender_DecryptMessage';
  const content = await sealedSenderDecryptToUsmc(message, identityStore);
  const cert = content.senderCertificate();
  if (!cert.validate(trustRoot, timestamp)) fail(ErrorCode.InvalidMessage, op, 'trust root validation failed');
  const sameAccount = cert.senderUuid() === localUuid || (localE164 !== null && cert.senderE164() === localE164);
  if (sameAccount && cert.senderDeviceId() === localDeviceId)
    fail(ErrorCode.SealedSenderSelfSend, op, 'message was sent by this device');
  const remote = ProtocolAddress.new(cert.senderUuid(), cert.senderDeviceId());
  const local = ProtocolAddress.new(localUuid, localDeviceId);
  const mismatch = (): never =>
    fail(ErrorCode.InvalidMessage, op, 'sender certificate identity does not match the message');
  let plaintext: Uint8Array;
  switch (content.msgType() as CiphertextMessageType) {
    case CiphertextMessageType.PreKey: {
      const inner = PreKeySignalMessage.deserialize(content.contents());
      if (!inner.parsed.identityKey.equals(cert.key())) mismatch();
      plaintext = await signalDecryptPreKey(
        inner,
        remote,
        local,
        sessionStore,
        identityStore,
        prekeyStore,
        signedPrekeyStore,
        kyberPrekeyStore,
        rng,
      );
      break;
    }
    case CiphertextMessageType.Whisper: {
      const inner = SignalMessage.deserialize(content.contents());
      const known = await identityStore.getIdentity(remote);
      if (!known || !known.equals(cert.key())) mismatch();
      plaintext = await signalDecrypt(inner, remote, local, sessionStore, identityStore, rng);
      break;
    }
    case CiphertextMessageType.SenderKey:
    case CiphertextMessageType.Plaintext:
      return fail(
        ErrorCode.InvalidMessage,
        op,
        `message type ${content.msgType()} is opened with sealedSenderDecryptToUsmc and its own cipher`,
      );
  }
  return new SealedSenderDecryptionResult(plaintext, {
    uuid: cert.senderUuid(),
    e164: cert.senderE164(),
    deviceId: cert.senderDeviceId(),
  });
}

/**
 * The session API of libsignal-client: `processPreKeyBundle`, `signalEncrypt`, `signalDecrypt` and
 * `signalDecryptPreKey`, same names and argument order, with optional trailing `now`/`rng` for tests. Each call
 * loads the record, computes on a copy and writes stores only after everything succeeded, so a failed
 * decryption changes no session, SPQR, identity or prekey state. A Whisper message may be decrypted by any kept
 * state (trial decryption); a PreKey message only by the state its base key names. Does not decide trust (the
 * identity store does) nor persist anything itself.
 */
import type { ProtocolAddress } from '../address.js';
import { encodeAddresses } from '../address.js';
import { ErrorCode, SignalClientError, fail } from '../errors.js';
import type { PublicKey } from '../keys/curve.js';
import { equalBytes } from '../primitives/bytes.js';
import type { Rng } from '../primitives/random.js';
import { defaultRng } from '../primitives/random.js';
import type { PreKeyBundle } from '../records.js';
import { initializeAliceSession, initializeBobSession, isSameAccount } from '../handshake/pqxdh.js';
import type { SessionState } from '../ratchet/session-state.js';
import { ratchetEncrypt } from '../ratchet/session-state.js';
import type {
  IdentityKeyStore,
  KyberPreKeyStore,
  PreKeyStore,
  SessionStore,
  SignedPreKeyStore,
} from '../storage/stores.js';
import { Direction } from '../storage/stores.js';
import type {
  CiphertextMessage,
  PreKeySignalMessage,
  PreKeySignalMessageFields,
  SignalMessage,
} from '../wire/messages.js';
import { PreKeySignalMessage as PreKeySignalMessageClass } from '../wire/messages.js';
import { SessionRecord, isExpired } from './session-record.js';

function untrusted(address: ProtocolAddress, operation: string): never {
  return fail(ErrorCode.UntrustedIdentity, operation, `untrusted identity for address ${address.name()}`, {
    addr: address.name(),
  });
}

export async function processPreKeyBundle(
  bundle: PreKeyBundle,
  address: ProtocolAddress,
  localAddress: ProtocolAddress,
  sessionStore: SessionStore,
  identityStore: IdentityKeyStore,
  now: Date = new Date(),
  rng: Rng = defaultRng,
): Promise<void> {
  const op = 'SessionBuilder_ProcessPreKeyBundle';
  const theirIdentity = bundle.identityKey();
  if (!(await identityStore.isTrustedIdentity(address, theirIdentity, Direction.Sending))) untrusted(address, op);
  if (!theirIdentity.verify(bundle.signedPreKeyPublic().serializedView(), bundle.signedPreKeySignature())) {
    fail(ErrorCode.InvalidSignature, op, 'signature validation failed');
  }
  if (!theirIdentity.verify(bundle.kyberPreKeyPublic().serializedView(), bundle.kyberPreKeySignature())) {
    fail(ErrorCode.InvalidSignature, op, 'Kyber signature validation failed');
  }
  const existing = await sessionStore.getSession(address);
  const ourIdentity = await identityStore.getIdentityKeyPair();
  const state = initializeAliceSession({
    ourIdentity,
    localRegistrationId: await identityStore.getLocalRegistrationId(),
    theirRegistrationId: bundle.registrationId(),
    theirIdentityKey: theirIdentity,
    theirSignedPreKey: bundle.signedPreKeyPublic(),
    theirSignedPreKeyId: bundle.signedPreKeyId(),
    theirOneTimePreKey: bundle.preKeyPublic(),
    theirOneTimePreKeyId: bundle.preKeyId(),
    theirKyberPreKey: bundle.kyberPreKeyPublic(),
    theirKyberPreKeyId: bundle.kyberPreKeyId(),
    selfSession: isSameAccount(address, localAddress, theirIdentity, ourIdentity.publicKey),
    now: now.getTime(),
    rng,
  });
  const record = existing ? existing.clone() : SessionRecord._newFresh();
  record.promoteState(state);
  await identityStore.saveIdentity(address, theirIdentity);
  await sessionStore.saveSession(address, record);
}

export async function signalEncrypt(
  message: Uint8Array,
  address: ProtocolAddress,
  localAddress: ProtocolAddress,
  sessionStore: SessionStore,
  identityStore: IdentityKeyStore,
  now: Date = new Date(),
  rng: Rng = defaultRng,
): Promise<CiphertextMessage> {
  const op = 'SessionCipher_EncryptMessage';
  const record = await sessionStore.getSession(address);
  const state = record?._currentState();
  if (!record || !state) return fail(ErrorCode.SessionNotFound, op, `session with ${address.toString()} not found`);
  if (isExpired(state, now.getTime()))
    fail(ErrorCode.SessionNotFound, op, `session with ${address.toString()} has expired (unacknowledged)`);

  const pending = state.pendingPreKey;
  const addresses = pending ? encodeAddresses(localAddress, address) : null;
  const { state: next, message: signalMessage } = ratchetEncrypt(state, message, addresses, rng);
  const out = pending
    ? PreKeySignalMessageClass._create({
        registrationId: state.localRegistrationId,
        preKeyId: pending.preKeyId,
        signedPreKeyId: pending.signedPreKeyId,
        kyberPreKeyId: pending.kyberPreKeyId,
        kyberCiphertext: pending.kyberCiphertext,
        baseKey: pending.baseKey,
        identityKey: state.localIdentityKey,
        message: signalMessage,
      }).asCiphertextMessage()
    : signalMessage.asCiphertextMessage();

  if (!(await identityStore.isTrustedIdentity(address, state.remoteIdentityKey, Direction.Sending)))
    untrusted(address, op);
  const updated = record.clone();
  updated.setCurrentState(next);
  await identityStore.saveIdentity(address, state.remoteIdentityKey);
  await sessionStore.saveSession(address, updated);
  return out;
}

/** A present `addresses` field must name the sender and us (facts §7); an absent one is accepted. */
function checkAddresses(
  message: SignalMessage,
  address: ProtocolAddress,
  localAddress: ProtocolAddress,
  operation: string,
): void {
  const present = message.parsed.addresses;
  if (present === null) return;
  const expected = encodeAddresses(address, localAddress);
  if (!expected || !equalBytes(expected, present))
    fail(ErrorCode.InvalidMessage, operation, 'decryption failed: message addresses do not match');
}

function selfSessionCheck(address: ProtocolAddress, localAddress: ProtocolAddress): (s: SessionState) => boolean {
  const sameName = address.name() === localAddress.name();
  return (s) => sameName && s.remoteIdentityKey.equals(s.localIdentityKey);
}

export async function signalDecrypt(
  message: SignalMessage,
  address: ProtocolAddress,
  localAddress: ProtocolAddress,
  sessionStore: SessionStore,
  identityStore: IdentityKeyStore,
  rng: Rng = defaultRng,
): Promise<Uint8Array> {
  const op = 'SessionCipher_DecryptSignalMessage';
  const record = await sessionStore.getSession(address);
  if (!record) return fail(ErrorCode.SessionNotFound, op, `no session for ${address.toString()}`);
  const { plaintext, record: updated } = record.decrypt(message, rng, selfSessionCheck(address, localAddress), op);
  checkAddresses(message, address, localAddress, op);
  const state = updated._currentState() as SessionState;
  if (!(await identityStore.isTrustedIdentity(address, state.remoteIdentityKey, Direction.Receiving)))
    untrusted(address, op);
  await identityStore.saveIdentity(address, state.remoteIdentityKey);
  await sessionStore.saveSession(address, updated);
  return plaintext;
}

/** What a PreKey message that created a new session consumed: committed only after it decrypted. */
interface PreKeysUsed {
  readonly preKeyId: number | null;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number;
  readonly baseKey: PublicKey;
}

/**
 * Makes the state a PreKey message names current in `record` (a copy): the existing state with the message's base
 * key, whose remote identity must be the message's, or a new state built from the message and our prekeys.
 * Returns the prekeys a new state used, null when an existing state was named.
 */
async function namedState(
  m: Readonly<PreKeySignalMessageFields>,
  record: SessionRecord,
  addresses: { address: ProtocolAddress; localAddress: ProtocolAddress },
  identityStore: IdentityKeyStore,
  prekeyStore: PreKeyStore,
  signedPrekeyStore: SignedPreKeyStore,
  kyberPrekeyStore: KyberPreKeyStore,
  operation: string,
): Promise<PreKeysUsed | null> {
  if (record.promoteMatchingSession(m.messageVersion, m.baseKey)) {
    const named = record._currentState() as SessionState;
    if (!named.remoteIdentityKey.equals(m.identityKey)) {
      fail(
        ErrorCode.InvalidMessage,
        operation,
        'invalid PreKey message: remote identity key not consistent with previously-established session',
      );
    }
    return null;
  }
  const signed = await signedPrekeyStore.getSignedPreKey(m.signedPreKeyId);
  const kyber = await kyberPrekeyStore.getKyberPreKey(m.kyberPreKeyId);
  const oneTime = m.preKeyId !== null ? await prekeyStore.getPreKey(m.preKeyId) : null;
  const ourIdentity = await identityStore.getIdentityKeyPair();
  const state = initializeBobSession({
    ourIdentity,
    localRegistrationId: await identityStore.getLocalRegistrationId(),
    theirRegistrationId: m.registrationId,
    ourSignedPreKey: signed.privateKey(),
    ourOneTimePreKey: oneTime ? oneTime.privateKey() : null,
    ourKyberSecretKey: kyber.secretKey(),
    theirIdentityKey: m.identityKey,
    theirBaseKey: m.baseKey,
    kyberCiphertext: m.kyberCiphertext,
    selfSession: isSameAccount(addresses.address, addresses.localAddress, m.identityKey, ourIdentity.publicKey),
  });
  record.promoteState(state);
  return {
    preKeyId: m.preKeyId,
    signedPreKeyId: m.signedPreKeyId,
    kyberPreKeyId: m.kyberPreKeyId,
    baseKey: m.baseKey,
  };
}

/**
 * Decrypts a PreKey message as libsignal does: only the state its base key names (an existing one, or a new one
 * built from it) may decrypt it; an existing state whose remote identity differs from the message's is an invalid
 * message. The Kyber used-mark, the identity, the session and the one-time prekey removal are written only after
 * that state decrypted and the addresses matched, and only for a state the message created.
 */
export async function signalDecryptPreKey(
  message: PreKeySignalMessage,
  address: ProtocolAddress,
  localAddress: ProtocolAddress,
  sessionStore: SessionStore,
  identityStore: IdentityKeyStore,
  prekeyStore: PreKeyStore,
  signedPrekeyStore: SignedPreKeyStore,
  kyberPrekeyStore: KyberPreKeyStore,
  rng: Rng = defaultRng,
): Promise<Uint8Array> {
  const op = 'SessionCipher_DecryptPreKeySignalMessage';
  const m = message.parsed;
  const existing = await sessionStore.getSession(address);
  if (!(await identityStore.isTrustedIdentity(address, m.identityKey, Direction.Receiving))) untrusted(address, op);

  const record = existing ? existing.clone() : SessionRecord._newFresh();
  const used = await namedState(
    m,
    record,
    { address, localAddress },
    identityStore,
    prekeyStore,
    signedPrekeyStore,
    kyberPrekeyStore,
    op,
  );
  let result;
  try {
    result = record.decryptWithCurrentState(m.message, rng, selfSessionCheck(address, localAddress), op);
  } catch (e) {
    if (SignalClientError.is(e, ErrorCode.InvalidMessage)) {
      fail(ErrorCode.InvalidMessage, op, `invalid PreKey message: ${e.message}`, { cause: e });
    }
    throw e;
  }
  checkAddresses(m.message, address, localAddress, op);

  // The Kyber used-mark goes first: a store may refuse a reused base key, and then nothing is written.
  if (used) await kyberPrekeyStore.markKyberPreKeyUsed(used.kyberPreKeyId, used.signedPreKeyId, used.baseKey);
  await identityStore.saveIdentity(address, m.identityKey);
  await sessionStore.saveSession(address, result.record);
  if (used && used.preKeyId !== null) await prekeyStore.removePreKey(used.preKeyId);
  return result.plaintext;
}

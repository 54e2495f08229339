/**
 * One Double Ratchet session state with its SPQR state, as an immutable value: `ratchetEncrypt` and
 * `ratchetDecrypt` never modify their input and return the successor state, so a caller commits only after the
 * whole operation succeeded (a failed decryption changes nothing). Skipped message keys are kept as seeds,
 * because the final keys depend on each message's SPQR key. Also the state's versioned binary encoding.
 * Does not choose among states (see session/session-record.ts) nor touch stores.
 */
import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

import { MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS, MAX_RECEIVER_CHAINS, SESSION_VERSION } from '../constants.js';
import { ErrorCode, SignalClientError, fail } from '../errors.js';
import { PrivateKey, PublicKey } from '../keys/curve.js';
import { aes256CbcDecrypt, aes256CbcEncrypt } from '../primitives/aes.js';
import type { Rng } from '../primitives/random.js';
import { SignalMessage } from '../wire/messages.js';
import { deriveMessageKeys, messageSeed, nextChainKey, rootStep } from './keys.js';
import { SpqrError, SpqrState, spqrRecv, spqrSend } from './spqr/index.js';

export interface SenderChain {
  readonly ratchetPrivate: PrivateKey;
  readonly ratchetPublic: PublicKey;
  readonly chainKey: Uint8Array;
  readonly index: number;
}

export interface ReceiverChain {
  readonly ratchetKey: PublicKey;
  readonly chainKey: Uint8Array;
  readonly index: number;
  /** counter → message seed, oldest first. Never mutated once the chain object is published. */
  readonly skipped: ReadonlyMap<number, Uint8Array>;
}

export interface PendingPreKey {
  readonly preKeyId: number | null;
  readonly signedPreKeyId: number;
  readonly kyberPreKeyId: number;
  readonly kyberCiphertext: Uint8Array;
  readonly baseKey: PublicKey;
  /** When the session was initiated (ms since epoch). */
  readonly timestamp: number;
}

export interface SessionState {
  readonly sessionVersion: number;
  readonly localIdentityKey: PublicKey;
  readonly remoteIdentityKey: PublicKey;
  readonly localRegistrationId: number;
  readonly remoteRegistrationId: number;
  readonly rootKey: Uint8Array;
  readonly previousCounter: number;
  readonly senderChain: SenderChain;
  /** Most recent last; at most MAX_RECEIVER_CHAINS. */
  readonly receiverChains: readonly ReceiverChain[];
  readonly pendingPreKey: PendingPreKey | null;
  /** The initiator's base key: identifies the session when a PreKeySignalMessage is repeated. */
  readonly aliceBaseKey: PublicKey;
  readonly spqr: SpqrState;
}

export interface EncryptResult {
  readonly state: SessionState;
  readonly message: SignalMessage;
}

/** What one send consumes: the successor state, the message seed, and SPQR's message and key for it. */
export interface SendStep {
  readonly state: SessionState;
  readonly seed: Uint8Array;
  readonly pq: { readonly message: Uint8Array; readonly key: Uint8Array };
}

/**
 * The state transition of one send, without building the message: the sending chain steps once and SPQR sends
 * once. `ratchetEncrypt` is this plus the encryption; tests use it alone to drop thousands of sends cheaply.
 */
export function ratchetSendStep(state: SessionState, rng: Rng): SendStep {
  const chain = state.senderChain;
  const pq = spqrSend(state.spqr, rng);
  return {
    seed: messageSeed(chain.chainKey),
    pq,
    state: {
      ...state,
      senderChain: { ...chain, chainKey: nextChainKey(chain.chainKey), index: chain.index + 1 },
      spqr: pq.state,
    },
  };
}

/** Encrypts one message on the sending chain; `addresses` is the optional field-6 binding. */
export function ratchetEncrypt(
  state: SessionState,
  plaintext: Uint8Array,
  addresses: Uint8Array | null,
  rng: Rng,
): EncryptResult {
  const chain = state.senderChain;
  const step = ratchetSendStep(state, rng);
  const keys = deriveMessageKeys(step.seed, step.pq.key);
  const ciphertext = aes256CbcEncrypt(keys.cipherKey, keys.iv, plaintext);
  const message = SignalMessage._new(
    state.sessionVersion,
    keys.macKey,
    chain.ratchetPublic,
    chain.index,
    state.previousCounter,
    ciphertext,
    state.localIdentityKey,
    state.remoteIdentityKey,
    step.pq.message,
    addresses,
  );
  return { message, state: step.state };
}

export interface DecryptResult {
  readonly state: SessionState;
  readonly plaintext: Uint8Array;
}

function invalid(message: string, cause?: unknown): never {
  return fail(
    ErrorCode.InvalidMessage,
    'SessionCipher_DecryptSignalMessage',
    message,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Decrypts a SignalMessage against one state. Throws DuplicatedMessage for an already-used counter, InvalidMessage
 * for anything else; never modifies `state`. `unlimitedJumps` lifts the forward-jump limit (note-to-self sessions).
 */
export function ratchetDecrypt(
  state: SessionState,
  message: SignalMessage,
  rng: Rng,
  unlimitedJumps = false,
): DecryptResult {
  const m = message.parsed;
  if (m.messageVersion !== state.sessionVersion) {
    invalid(`unrecognized message version <${m.messageVersion}> for session version <${state.sessionVersion}>`);
  }
  const theirRatchet = m.senderRatchetKey;

  // 1. Find or create the receiver chain (a DH ratchet step for a new ratchet key).
  let chainIdx = -1;
  for (let i = state.receiverChains.length - 1; i >= 0; i--) {
    if ((state.receiverChains[i] as ReceiverChain).ratchetKey.equals(theirRatchet)) {
      chainIdx = i;
      break;
    }
  }
  let rootKey = state.rootKey;
  let senderChain = state.senderChain;
  let previousCounter = state.previousCounter;
  let chain: ReceiverChain;
  if (chainIdx >= 0) {
    chain = state.receiverChains[chainIdx] as ReceiverChain;
  } else {
    let recv;
    try {
      recv = rootStep(rootKey, senderChain.ratchetPrivate.agree(theirRatchet));
    } catch (e) {
      invalid('invalid ratchet key', e);
    }
    const ours = PrivateKey.generate(rng);
    const send = rootStep(recv.rootKey, ours.agree(theirRatchet));
    rootKey = send.rootKey;
    previousCounter = Math.max(senderChain.index, 1) - 1;
    senderChain = { ratchetPrivate: ours, ratchetPublic: ours.getPublicKey(), chainKey: send.chainKey, index: 0 };
    chain = { ratchetKey: theirRatchet, chainKey: recv.chainKey, index: 0, skipped: new Map() };
  }

  // 2. The message seed for this counter.
  const counter = m.counter;
  let seed: Uint8Array;
  let newChain: ReceiverChain;
  if (counter < chain.index) {
    const s = chain.skipped.get(counter);
    if (!s) {
      throw new SignalClientError(
        ErrorCode.DuplicatedMessage,
        'SessionCipher_DecryptSignalMessage',
        `message with old counter ${chain.index} / ${counter}`,
      );
    }
    seed = s;
    const skipped = new Map(chain.skipped);
    skipped.delete(counter);
    newChain = { ...chain, skipped };
  } else {
    const jump = counter - chain.index;
    if (jump > MAX_FORWARD_JUMPS && !unlimitedJumps) invalid('message from too far into the future');
    let ck = chain.chainKey;
    let skipped: Map<number, Uint8Array> | null = null;
    const keepFrom = counter - MAX_MESSAGE_KEYS;
    for (let i = chain.index; i < counter; i++) {
      if (i >= keepFrom) {
        skipped ??= new Map(chain.skipped);
        skipped.set(i, messageSeed(ck));
        if (skipped.size > MAX_MESSAGE_KEYS) {
          const oldest = skipped.keys().next().value as number;
          skipped.delete(oldest);
        }
      }
      ck = nextChainKey(ck);
    }
    seed = messageSeed(ck);
    newChain = {
      ratchetKey: chain.ratchetKey,
      chainKey: nextChainKey(ck),
      index: counter + 1,
      skipped: skipped ?? chain.skipped,
    };
  }

  // 3. SPQR: the salt for this message's keys.
  let pq: { state: SpqrState; key: Uint8Array };
  try {
    pq = spqrRecv(state.spqr, m.pqRatchet);
  } catch (e) {
    if (e instanceof SpqrError) invalid(e.message, e);
    throw e;
  }

  // 4. Authenticate, then decrypt.
  const keys = deriveMessageKeys(seed, pq.key);
  if (!message.verifyMac(state.remoteIdentityKey, state.localIdentityKey, keys.macKey))
    invalid('MAC verification failed');
  const plaintext = aes256CbcDecrypt(keys.cipherKey, keys.iv, m.ciphertext);
  if (!plaintext) invalid('decryption failed: bad padding');

  // 5. The successor state.
  let receiverChains: ReceiverChain[];
  if (chainIdx >= 0) {
    receiverChains = state.receiverChains.slice();
    receiverChains[chainIdx] = newChain;
  } else {
    receiverChains = [...state.receiverChains, newChain];
    if (receiverChains.length > MAX_RECEIVER_CHAINS)
      receiverChains = receiverChains.slice(receiverChains.length - MAX_RECEIVER_CHAINS);
  }
  return {
    plaintext,
    state: { ...state, rootKey, senderChain, previousCounter, receiverChains, pendingPreKey: null, spqr: pq.state },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Binary encoding (protobuf body; the record adds the format version byte).
//   SessionState: 1 version, 2 local identity, 3 remote identity, 4 local reg id, 5 remote reg id, 6 root key,
//   7 previous counter, 8 sender chain, 9 receiver chain (repeated, oldest first), 10 pending prekey,
//   11 alice base key, 12 SPQR state.
//   SenderChain: 1 private key, 2 chain key, 3 index, 4 public key.   ReceiverChain: 1 ratchet key, 2 chain key,
//   3 index, 4 skipped (repeated { 1 counter, 2 seed }).   PendingPreKey: 1 prekey id (optional), 2 signed prekey
//   id, 3 kyber prekey id, 4 kyber ciphertext, 5 base key, 6 timestamp (uint64 ms).
// Decoding is field-specific and BigInt-free on the hot path; unknown fields are skipped for forward compatibility.
// ---------------------------------------------------------------------------------------------------------------

const LD = WireType.LengthDelimited;
const VI = WireType.Varint;

export function encodeSessionState(s: SessionState, w: BinaryWriter): void {
  w.tag(1, VI).uint32(s.sessionVersion);
  w.tag(2, LD).bytes(s.localIdentityKey.serializedView());
  w.tag(3, LD).bytes(s.remoteIdentityKey.serializedView());
  w.tag(4, VI).uint32(s.localRegistrationId);
  w.tag(5, VI).uint32(s.remoteRegistrationId);
  w.tag(6, LD).bytes(s.rootKey);
  w.tag(7, VI).uint32(s.previousCounter);
  w.tag(8, LD).fork();
  w.tag(1, LD).bytes(s.senderChain.ratchetPrivate.serialize());
  w.tag(2, LD).bytes(s.senderChain.chainKey);
  w.tag(3, VI).uint32(s.senderChain.index);
  w.tag(4, LD).bytes(s.senderChain.ratchetPublic.serializedView());
  w.join();
  for (const c of s.receiverChains) {
    w.tag(9, LD).fork();
    w.tag(1, LD).bytes(c.ratchetKey.serializedView());
    w.tag(2, LD).bytes(c.chainKey);
    w.tag(3, VI).uint32(c.index);
    for (const [counter, seed] of c.skipped) {
      w.tag(4, LD).fork().tag(1, VI).uint32(counter).tag(2, LD).bytes(seed).join();
    }
    w.join();
  }
  const p = s.pendingPreKey;
  if (p) {
    w.tag(10, LD).fork();
    if (p.preKeyId !== null) w.tag(1, VI).uint32(p.preKeyId);
    w.tag(2, VI).uint32(p.signedPreKeyId);
    w.tag(3, VI).uint32(p.kyberPreKeyId);
    w.tag(4, LD).bytes(p.kyberCiphertext);
    w.tag(5, LD).bytes(p.baseKey.serializedView());
    w.tag(6, VI).uint64(p.timestamp);
    w.join();
  }
  w.tag(11, LD).bytes(s.aliceBaseKey.serializedView());
  w.tag(12, LD).bytes(s.spqr.serialize());
}

/** Reads one message's fields, calling `on` for each; wire types must match `want` or the record is corrupt. */
function each(buf: Uint8Array, want: Record<number, WireType>, on: (no: number, r: BinaryReader) => void): void {
  const r = new BinaryReader(buf);
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    const expected = want[no];
    if (expected === undefined) {
      r.skip(wt, no);
      continue;
    }
    if (expected !== wt) throw new Error(`bad wire type for field ${no}`);
    on(no, r);
  }
}

function need<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`missing ${what}`);
  return v;
}

function key32(b: Uint8Array, what: string): Uint8Array {
  if (b.length !== 32) throw new Error(`bad ${what}`);
  return b.slice();
}

function decodeSenderChain(buf: Uint8Array): SenderChain {
  let priv: Uint8Array | undefined;
  let chainKey: Uint8Array | undefined;
  let index = 0;
  let pub: Uint8Array | undefined;
  each(buf, { 1: LD, 2: LD, 3: VI, 4: LD }, (no, r) => {
    if (no === 1) priv = r.bytes();
    else if (no === 2) chainKey = r.bytes();
    else if (no === 3) index = r.uint32();
    else pub = r.bytes();
  });
  const p = key32(need(priv, 'sender ratchet key'), 'sender ratchet key');
  const ratchetPrivate = pub ? PrivateKey._fromTrustedPair(p, PublicKey.deserialize(pub)) : PrivateKey.deserialize(p);
  return {
    ratchetPrivate,
    ratchetPublic: ratchetPrivate.getPublicKey(),
    chainKey: key32(need(chainKey, 'chain key'), 'chain key'),
    index,
  };
}

function decodeReceiverChain(buf: Uint8Array): ReceiverChain {
  let ratchetKey: Uint8Array | undefined;
  let chainKey: Uint8Array | undefined;
  let index = 0;
  const skipped = new Map<number, Uint8Array>();
  each(buf, { 1: LD, 2: LD, 3: VI, 4: LD }, (no, r) => {
    if (no === 1) ratchetKey = r.bytes();
    else if (no === 2) chainKey = r.bytes();
    else if (no === 3) index = r.uint32();
    else {
      let counter: number | undefined;
      let seed: Uint8Array | undefined;
      each(r.bytes(), { 1: VI, 2: LD }, (n, rr) => {
        if (n === 1) counter = rr.uint32();
        else seed = rr.bytes();
      });
      skipped.set(need(counter, 'skipped counter'), key32(need(seed, 'skipped seed'), 'skipped seed'));
    }
  });
  if (skipped.size > MAX_MESSAGE_KEYS) throw new Error('too many skipped keys');
  return {
    ratchetKey: PublicKey.deserialize(need(ratchetKey, 'ratchet key')),
    chainKey: key32(need(chainKey, 'chain key'), 'chain key'),
    index,
    skipped,
  };
}

function decodePending(buf: Uint8Array): PendingPreKey {
  let preKeyId: number | null = null;
  let signedPreKeyId: number | undefined;
  let kyberPreKeyId: number | undefined;
  let kyberCiphertext: Uint8Array | undefined;
  let baseKey: Uint8Array | undefined;
  let timestamp = 0;
  each(buf, { 1: VI, 2: VI, 3: VI, 4: LD, 5: LD, 6: VI }, (no, r) => {
    if (no === 1) preKeyId = r.uint32();
    else if (no === 2) signedPreKeyId = r.uint32();
    else if (no === 3) kyberPreKeyId = r.uint32();
    else if (no === 4) kyberCiphertext = r.bytes().slice();
    else if (no === 5) baseKey = r.bytes();
    else timestamp = Number(r.uint64());
  });
  return {
    preKeyId,
    signedPreKeyId: need(signedPreKeyId, 'signed prekey id'),
    kyberPreKeyId: need(kyberPreKeyId, 'kyber prekey id'),
    kyberCiphertext: need(kyberCiphertext, 'kyber ciphertext'),
    baseKey: PublicKey.deserialize(need(baseKey, 'base key')),
    timestamp,
  };
}

/** Decodes a state; throws plain Errors (or SpqrError) that the record layer maps to InvalidRecord. */
export function decodeSessionState(buf: Uint8Array): SessionState {
  let sessionVersion: number | undefined;
  let localIdentityKey: PublicKey | undefined;
  let remoteIdentityKey: PublicKey | undefined;
  let localRegistrationId = 0;
  let remoteRegistrationId = 0;
  let rootKey: Uint8Array | undefined;
  let previousCounter = 0;
  let senderChain: SenderChain | undefined;
  const receiverChains: ReceiverChain[] = [];
  let pendingPreKey: PendingPreKey | null = null;
  let aliceBaseKey: PublicKey | undefined;
  let spqr: SpqrState | undefined;
  each(buf, { 1: VI, 2: LD, 3: LD, 4: VI, 5: VI, 6: LD, 7: VI, 8: LD, 9: LD, 10: LD, 11: LD, 12: LD }, (no, r) => {
    switch (no) {
      case 1:
        sessionVersion = r.uint32();
        break;
      case 2:
        localIdentityKey = PublicKey.deserialize(r.bytes());
        break;
      case 3:
        remoteIdentityKey = PublicKey.deserialize(r.bytes());
        break;
      case 4:
        localRegistrationId = r.uint32();
        break;
      case 5:
        remoteRegistrationId = r.uint32();
        break;
      case 6:
        rootKey = key32(r.bytes(), 'root key');
        break;
      case 7:
        previousCounter = r.uint32();
        break;
      case 8:
        senderChain = decodeSenderChain(r.bytes());
        break;
      case 9:
        receiverChains.push(decodeReceiverChain(r.bytes()));
        break;
      case 10:
        pendingPreKey = decodePending(r.bytes());
        break;
      case 11:
        aliceBaseKey = PublicKey.deserialize(r.bytes());
        break;
      default:
        spqr = SpqrState.deserialize(r.bytes());
    }
  });
  if (sessionVersion !== SESSION_VERSION) throw new Error('unsupported session version');
  if (receiverChains.length > MAX_RECEIVER_CHAINS) throw new Error('too many receiver chains');
  return {
    sessionVersion,
    localIdentityKey: need(localIdentityKey, 'local identity'),
    remoteIdentityKey: need(remoteIdentityKey, 'remote identity'),
    localRegistrationId,
    remoteRegistrationId,
    rootKey: need(rootKey, 'root key'),
    previousCounter,
    senderChain: need(senderChain, 'sender chain'),
    receiverChains,
    pendingPreKey,
    aliceBaseKey: need(aliceBaseKey, 'base key'),
    spqr: need(spqr, 'SPQR state'),
  };
}

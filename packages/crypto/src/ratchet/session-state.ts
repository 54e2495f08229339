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

/** Encrypts one message on the sending chain; `addresses` is the optional field-6 binding. */
export function ratchetEncrypt(
  state: SessionState,
  plaintext: Uint8Array,
  addresses: Uint8Array | null,
  rng: Rng,
): EncryptResult {
  const chain = state.senderChain;
  const seed = messageSeed(chain.chainKey);
  const pq = spqrSend(state.spqr, rng);
  const keys = deriveMessageKeys(seed, pq.key);
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
    pq.message,
    addresses,
  );
  return {
    message,
    state: {
      ...state,
      senderChain: { ...chain, chainKey: nextChainKey(chain.chainKey), index: chain.index + 1 },
      spqr: pq.state,
    },
  };
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
//   SenderChain: 1 private key, 2 chain key, 3 index.   ReceiverChain: 1 ratchet key, 2 chain key, 3 index,
//   4 skipped (repeated { 1 counter, 2 seed }).   PendingPreKey: 1 prekey id (optional), 2 signed prekey id,
//   3 kyber prekey id, 4 kyber ciphertext, 5 base key, 6 timestamp.
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

type Field = { no: number; v: Uint8Array | number };

function fields(buf: Uint8Array): Field[] {
  const r = new BinaryReader(buf);
  const out: Field[] = [];
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (wt === LD) out.push({ no, v: r.bytes() });
    else if (wt === VI) out.push({ no, v: Number(r.uint64()) });
    else r.skip(wt, no);
  }
  return out;
}

function one(fs: Field[], no: number): Uint8Array | number | undefined {
  let v: Uint8Array | number | undefined;
  for (const f of fs) if (f.no === no) v = f.v;
  return v;
}

function bytesOf(fs: Field[], no: number, len?: number): Uint8Array {
  const v = one(fs, no);
  if (!(v instanceof Uint8Array) || (len !== undefined && v.length !== len)) throw new Error(`bad field ${no}`);
  return v.slice();
}

function numOf(fs: Field[], no: number, dflt?: number): number {
  const v = one(fs, no);
  if (typeof v === 'number') return v;
  if (v === undefined && dflt !== undefined) return dflt;
  throw new Error(`bad field ${no}`);
}

/** Decodes a state; throws plain Errors that the record layer maps to InvalidRecord. */
export function decodeSessionState(buf: Uint8Array): SessionState {
  const fs = fields(buf);
  const sc = fields(bytesOf(fs, 8));
  const ratchetPrivate = PrivateKey.deserialize(bytesOf(sc, 1, 32));
  const receiverChains: ReceiverChain[] = [];
  for (const f of fs) {
    if (f.no !== 9 || !(f.v instanceof Uint8Array)) continue;
    const cf = fields(f.v);
    const skipped = new Map<number, Uint8Array>();
    for (const e of cf) {
      if (e.no !== 4 || !(e.v instanceof Uint8Array)) continue;
      const ef = fields(e.v);
      skipped.set(numOf(ef, 1), bytesOf(ef, 2, 32));
    }
    if (skipped.size > MAX_MESSAGE_KEYS) throw new Error('too many skipped keys');
    receiverChains.push({
      ratchetKey: PublicKey.deserialize(bytesOf(cf, 1)),
      chainKey: bytesOf(cf, 2, 32),
      index: numOf(cf, 3),
      skipped,
    });
  }
  if (receiverChains.length > MAX_RECEIVER_CHAINS) throw new Error('too many receiver chains');
  let pendingPreKey: PendingPreKey | null = null;
  const pv = one(fs, 10);
  if (pv instanceof Uint8Array) {
    const pf = fields(pv);
    const pk = one(pf, 1);
    pendingPreKey = {
      preKeyId: typeof pk === 'number' ? pk : null,
      signedPreKeyId: numOf(pf, 2),
      kyberPreKeyId: numOf(pf, 3),
      kyberCiphertext: bytesOf(pf, 4),
      baseKey: PublicKey.deserialize(bytesOf(pf, 5)),
      timestamp: numOf(pf, 6),
    };
  }
  const sessionVersion = numOf(fs, 1);
  if (sessionVersion !== SESSION_VERSION) throw new Error('unsupported session version');
  return {
    sessionVersion,
    localIdentityKey: PublicKey.deserialize(bytesOf(fs, 2)),
    remoteIdentityKey: PublicKey.deserialize(bytesOf(fs, 3)),
    localRegistrationId: numOf(fs, 4, 0),
    remoteRegistrationId: numOf(fs, 5, 0),
    rootKey: bytesOf(fs, 6, 32),
    previousCounter: numOf(fs, 7, 0),
    senderChain: {
      ratchetPrivate,
      ratchetPublic: ratchetPrivate.getPublicKey(),
      chainKey: bytesOf(sc, 2, 32),
      index: numOf(sc, 3),
    },
    receiverChains,
    pendingPreKey,
    aliceBaseKey: PublicKey.deserialize(bytesOf(fs, 11)),
    spqr: SpqrState.deserialize(bytesOf(fs, 12)),
  };
}

/**
 * The binary encoding of one `SessionState` (session-state.ts): a protobuf body that the record
 * (session/session-record.ts) wraps with its format version byte. Field numbers, fixed here for good because
 * saved records (test/fixtures) must keep loading:
 *
 *   SessionState: 1 version, 2 local identity, 3 remote identity, 4 local reg id, 5 remote reg id, 6 root key,
 *   7 previous counter, 8 sender chain, 9 receiver chain (repeated, oldest first), 10 pending prekey,
 *   11 alice base key, 12 SPQR state (its own versioned bytes, ratchet/spqr/state.ts).
 *   SenderChain: 1 private key, 2 chain key, 3 index, 4 public key.   ReceiverChain: 1 ratchet key, 2 chain key,
 *   3 index, 4 skipped (repeated { 1 counter, 2 seed }).   PendingPreKey: 1 prekey id (optional), 2 signed prekey
 *   id, 3 kyber prekey id, 4 kyber ciphertext, 5 base key, 6 timestamp (uint64 ms).
 *
 * Decoding is field-specific and BigInt-free on the hot path; unknown fields are skipped for forward
 * compatibility; any defect throws a plain Error (or SpqrError), which the record maps to InvalidRecord. No ratchet
 * logic here.
 */
import type { BinaryWriter } from '@bufbuild/protobuf/wire';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

import { MAX_MESSAGE_KEYS, MAX_RECEIVER_CHAINS, SESSION_VERSION } from '../constants.js';
import { PrivateKey, PublicKey } from '../keys/curve.js';
import type { MessageSeed, RootKey } from './key-roles.js';
import { asChainKey, asMessageSeed, asRootKey } from './key-roles.js';
import type { PendingPreKey, ReceiverChain, SenderChain, SessionState } from './session-state.js';
import { SpqrState } from './spqr/index.js';

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
    chainKey: asChainKey(key32(need(chainKey, 'chain key'), 'chain key')),
    index,
  };
}

function decodeReceiverChain(buf: Uint8Array): ReceiverChain {
  let ratchetKey: Uint8Array | undefined;
  let chainKey: Uint8Array | undefined;
  let index = 0;
  const skipped = new Map<number, MessageSeed>();
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
      skipped.set(need(counter, 'skipped counter'), asMessageSeed(key32(need(seed, 'skipped seed'), 'skipped seed')));
    }
  });
  if (skipped.size > MAX_MESSAGE_KEYS) throw new Error('too many skipped keys');
  return {
    ratchetKey: PublicKey.deserialize(need(ratchetKey, 'ratchet key')),
    chainKey: asChainKey(key32(need(chainKey, 'chain key'), 'chain key')),
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
  let rootKey: RootKey | undefined;
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
        rootKey = asRootKey(key32(r.bytes(), 'root key'));
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

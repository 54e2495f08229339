/**
 * One Double Ratchet session state with its SPQR state, as an immutable value: `ratchetEncrypt` and
 * `ratchetDecrypt` never modify their input and return the successor state, so a caller commits only after the
 * whole operation succeeded (a failed decryption changes nothing). Skipped message keys are kept as seeds,
 * because the final keys depend on each message's SPQR key. Only ratchet logic: the binary encoding is
 * session-state.codec.ts's. Does not choose among states (see session/session-record.ts) nor touch stores.
 */
import { MAX_FORWARD_JUMPS, MAX_MESSAGE_KEYS, MAX_RECEIVER_CHAINS } from '../constants.js';
import { ErrorCode, SignalClientError, fail } from '../errors.js';
import type { PublicKey } from '../keys/curve.js';
import { PrivateKey } from '../keys/curve.js';
import { aes256CbcDecrypt, aes256CbcEncrypt } from '../primitives/aes.js';
import type { Rng } from '../primitives/random.js';
import { SignalMessage } from '../wire/messages.js';
import type { ChainKey, MessageSeed, RootKey, SpqrMessageKey } from './key-roles.js';
import { deriveMessageKeys, messageSeed, nextChainKey, rootStep } from './keys.js';
import type { SpqrState } from './spqr/index.js';
import { SpqrError, spqrRecv, spqrSend } from './spqr/index.js';

export interface SenderChain {
  readonly ratchetPrivate: PrivateKey;
  readonly ratchetPublic: PublicKey;
  readonly chainKey: ChainKey;
  readonly index: number;
}

export interface ReceiverChain {
  readonly ratchetKey: PublicKey;
  readonly chainKey: ChainKey;
  readonly index: number;
  /** counter → message seed, oldest first. Never mutated once the chain object is published. */
  readonly skipped: ReadonlyMap<number, MessageSeed>;
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
  readonly rootKey: RootKey;
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
  readonly seed: MessageSeed;
  readonly pq: { readonly message: Uint8Array; readonly key: SpqrMessageKey };
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
  let seed: MessageSeed;
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
    let skipped: Map<number, MessageSeed> | null = null;
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
  let pq: { state: SpqrState; key: SpqrMessageKey };
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

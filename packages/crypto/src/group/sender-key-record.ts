/**
 * Sender-key state and `SenderKeyRecord`, the per-(sender, distribution id) record: up to MAX_SENDER_KEY_STATES
 * states, newest first, each a chain (chain id, iteration, 32-byte chain key), the sender's signing key (its
 * private half only in our own record) and up to MAX_MESSAGE_KEYS kept message-key seeds for out-of-order
 * messages, oldest dropped first. Also the chain's KDFs (facts §4 "Sender keys": seed = HMAC(ck, 0x01), next =
 * HMAC(ck, 0x02), HKDF(seed, "WhisperGroup", 48) = IV ‖ key) and the rule for adding a state that libsignal
 * applies: a repeated (chain id, signing key) keeps the state already held, so replaying a distribution message
 * cannot rewind a chain; another signing key under a held chain id replaces that state.
 *
 * Records serialize to this package's own versioned format (byte 0 = format version), not libsignal's; a defect
 * anywhere is `InvalidRecord`. States are plain values: callers copy (`_copy`) before changing and store only on
 * success (group-cipher.ts). No store access, no message parsing. Never prints a key (redaction.ts).
 */
import { MAX_MESSAGE_KEYS, MAX_SENDER_KEY_STATES } from '../constants.js';
import { ErrorCode, fail } from '../errors.js';
import { PrivateKey, PublicKey } from '../keys/curve.js';
import { equalBytes } from '../primitives/bytes.js';
import { hkdf, hmacSha256, utf8 } from '../primitives/hash.js';
import type { RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from '../redaction.js';

/** The record encoding this module writes (byte 0); older versions would be migrated on load. */
const RECORD_FORMAT_VERSION = 1;
const CHAIN_KEY_LENGTH = 32;
const PUBLIC_KEY_LENGTH = 33;
const PRIVATE_KEY_LENGTH = 32;
/** The only sender-key message version (facts §3). */
const STATE_MESSAGE_VERSION = 3;
/** Largest iteration a chain may reach: the wire carries uint32 iterations. */
export const MAX_ITERATION = 0xffff_ffff;

const MESSAGE_KEY_SEED = Uint8Array.of(0x01);
const CHAIN_KEY_SEED = Uint8Array.of(0x02);
const WHISPER_GROUP = utf8('WhisperGroup');

/** The seed a chain key yields for its own iteration's message. */
export function senderMessageSeed(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, MESSAGE_KEY_SEED);
}

/** The chain key of the next iteration. */
export function nextSenderChainKey(chainKey: Uint8Array): Uint8Array {
  return hmacSha256(chainKey, CHAIN_KEY_SEED);
}

/** AES-256-CBC IV and key from a message seed: IV = bytes 0..16, key = bytes 16..48 (libsignal's order). */
export function senderMessageKeys(seed: Uint8Array): { iv: Uint8Array; cipherKey: Uint8Array } {
  const out = hkdf(seed, null, WHISPER_GROUP, 48);
  return { iv: out.subarray(0, 16), cipherKey: out.subarray(16, 48) };
}

/** A kept message-key seed for an iteration not yet received. */
export type SenderMessageSeed = { readonly iteration: number; readonly seed: Uint8Array };

/** One sender chain. Plain data; `copySenderKeyState` before changing one that a record holds. */
export type SenderKeyState = {
  readonly messageVersion: number;
  readonly chainId: number;
  /** The iteration of `chainKey`: the next message this chain sends or expects. */
  iteration: number;
  chainKey: Uint8Array;
  readonly signingKey: PublicKey;
  readonly signingPrivateKey: PrivateKey | null;
  /** Oldest first, iterations strictly increasing and below `iteration`, at most MAX_MESSAGE_KEYS. */
  messageKeys: SenderMessageSeed[];
};

export function copySenderKeyState(s: SenderKeyState): SenderKeyState {
  return { ...s, messageKeys: s.messageKeys.slice() };
}

/** Keeps `seeds` (oldest first) in `state`, dropping the oldest beyond MAX_MESSAGE_KEYS. */
export function keepMessageSeeds(state: SenderKeyState, seeds: readonly SenderMessageSeed[]): void {
  const all = state.messageKeys.concat(seeds);
  state.messageKeys = all.length > MAX_MESSAGE_KEYS ? all.slice(all.length - MAX_MESSAGE_KEYS) : all;
}

export class SenderKeyRecord {
  /** Newest first. `#private`: states hold chain keys and our signing private key. */
  #states: SenderKeyState[];

  private constructor(states: SenderKeyState[]) {
    this.#states = states;
  }

  /** @internal An empty record (libsignal-client has no public constructor). */
  static _empty(): SenderKeyRecord {
    return new SenderKeyRecord([]);
  }

  /** @internal A record whose states can be changed without touching this one. */
  _copy(): SenderKeyRecord {
    return new SenderKeyRecord(this.#states.map(copySenderKeyState));
  }

  /** @internal The newest state (the one we send with), or null. */
  _currentState(): SenderKeyState | null {
    return this.#states[0] ?? null;
  }

  /** @internal The state for `chainId`, or null. */
  _stateForChainId(chainId: number): SenderKeyState | null {
    return this.#states.find((s) => s.chainId === chainId) ?? null;
  }

  /** @internal All states, newest first (tests and redaction checks). */
  _states(): readonly SenderKeyState[] {
    return this.#states;
  }

  /**
   * @internal Adds a state at the front. A state with the same chain id and signing key is kept as it is (moved to
   * the front) instead of being replaced, so a replayed distribution message cannot rewind a chain; states with
   * the same chain id and another signing key are dropped; then the oldest states beyond MAX_SENDER_KEY_STATES go.
   */
  _addState(
    chainId: number,
    iteration: number,
    chainKey: Uint8Array,
    signingKey: PublicKey,
    signingPrivateKey: PrivateKey | null,
  ): void {
    const existing = this.#states.find((s) => s.chainId === chainId && s.signingKey.equals(signingKey));
    const rest = this.#states.filter((s) => s.chainId !== chainId);
    const state: SenderKeyState = existing ?? {
      messageVersion: STATE_MESSAGE_VERSION,
      chainId,
      iteration,
      chainKey: Uint8Array.from(chainKey),
      signingKey,
      signingPrivateKey,
      messageKeys: [],
    };
    this.#states = [state, ...rest.slice(0, MAX_SENDER_KEY_STATES - 1)];
  }

  serialize(): Uint8Array {
    let size = 2;
    for (const s of this.#states)
      size += 1 + 4 + 4 + CHAIN_KEY_LENGTH + PUBLIC_KEY_LENGTH + 1 + (s.signingPrivateKey ? PRIVATE_KEY_LENGTH : 0) + 2;
    for (const s of this.#states) size += s.messageKeys.length * (4 + CHAIN_KEY_LENGTH);
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    out[0] = RECORD_FORMAT_VERSION;
    out[1] = this.#states.length;
    let o = 2;
    for (const s of this.#states) {
      out[o++] = s.messageVersion;
      view.setUint32(o, s.chainId);
      view.setUint32(o + 4, s.iteration);
      o += 8;
      out.set(s.chainKey, o);
      o += CHAIN_KEY_LENGTH;
      out.set(s.signingKey.serializedView(), o);
      o += PUBLIC_KEY_LENGTH;
      out[o++] = s.signingPrivateKey ? 1 : 0;
      if (s.signingPrivateKey) {
        out.set(s.signingPrivateKey.serialize(), o);
        o += PRIVATE_KEY_LENGTH;
      }
      view.setUint16(o, s.messageKeys.length);
      o += 2;
      for (const k of s.messageKeys) {
        view.setUint32(o, k.iteration);
        out.set(k.seed, o + 4);
        o += 4 + CHAIN_KEY_LENGTH;
      }
    }
    return out;
  }

  static deserialize(buffer: Uint8Array): SenderKeyRecord {
    const op = 'SenderKeyRecord_Deserialize';
    const bad = (why: string): never => fail(ErrorCode.InvalidRecord, op, `invalid sender key record: ${why}`);
    if (!(buffer instanceof Uint8Array)) fail(ErrorCode.InvalidArgument, op, 'expected bytes');
    if (buffer.length < 2) bad('too short');
    if (buffer[0] !== RECORD_FORMAT_VERSION) bad(`unknown format version <${buffer[0]}>`);
    const count = buffer[1] as number;
    if (count > MAX_SENDER_KEY_STATES) bad('too many states');
    const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    let o = 2;
    const take = (n: number): Uint8Array => {
      if (o + n > buffer.length) bad('truncated');
      const b = buffer.slice(o, o + n);
      o += n;
      return b;
    };
    const u8 = (): number => take(1)[0] as number;
    const u16 = (): number => {
      take(2);
      return view.getUint16(o - 2);
    };
    const u32 = (): number => {
      take(4);
      return view.getUint32(o - 4);
    };
    const states: SenderKeyState[] = [];
    for (let i = 0; i < count; i++) {
      const messageVersion = u8();
      if (messageVersion !== STATE_MESSAGE_VERSION) bad('bad message version');
      const chainId = u32();
      const iteration = u32();
      const chainKey = take(CHAIN_KEY_LENGTH);
      const pub = take(PUBLIC_KEY_LENGTH);
      const flag = u8();
      if (flag > 1) bad('bad flag');
      const priv = flag === 1 ? take(PRIVATE_KEY_LENGTH) : null;
      let signingKey: PublicKey;
      let signingPrivateKey: PrivateKey | null = null;
      try {
        signingKey = PublicKey.deserialize(pub);
        if (priv) {
          signingPrivateKey = PrivateKey.deserialize(priv);
          if (!equalBytes(signingPrivateKey.getPublicKey().serializedView(), pub)) bad('key pair mismatch');
        }
      } catch (cause) {
        if (cause instanceof Error && cause.message.startsWith('invalid sender key record')) throw cause;
        fail(ErrorCode.InvalidRecord, op, 'invalid sender key record: bad key', { cause });
      }
      const keyCount = u16();
      if (keyCount > MAX_MESSAGE_KEYS) bad('too many message keys');
      const messageKeys: SenderMessageSeed[] = [];
      let prev = -1;
      for (let k = 0; k < keyCount; k++) {
        const it = u32();
        if (it <= prev || it >= iteration) bad('message keys out of order');
        prev = it;
        messageKeys.push({ iteration: it, seed: take(CHAIN_KEY_LENGTH) });
      }
      if (states.some((s) => s.chainId === chainId)) bad('repeated chain id');
      states.push({ messageVersion, chainId, iteration, chainKey, signingKey, signingPrivateKey, messageKeys });
    }
    if (o !== buffer.length) bad('trailing bytes');
    return new SenderKeyRecord(states);
  }

  /** Never a key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('SenderKeyRecord', this.#facts());
  }

  toString(): string {
    return describeRedacted('SenderKeyRecord', this.#facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  #facts(): Record<string, string | number> {
    return { states: this.#states.length, keys: REDACTED };
  }
}

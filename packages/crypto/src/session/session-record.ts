/**
 * `SessionRecord`: the current session state for one address plus up to 40 archived ones, with trial decryption
 * of Whisper messages (current first, then archived, promoting the one that works), current-state-only decryption
 * for PreKey messages, and versioned binary encoding. Every operation that changes states works on a copy
 * (`clone()`), so callers commit a record only after success. The format (version byte 1 ‖ protobuf) is this
 * package's own; it is not libsignal's internal format. A record never prints its keys (redaction.ts).
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import { ARCHIVED_STATES_MAX_LENGTH, MAX_UNACKNOWLEDGED_SESSION_AGE_MS } from '../constants.js';
import { ErrorCode, SignalClientError, fail } from '../errors.js';
import type { PublicKey } from '../keys/curve.js';
import type { Rng } from '../primitives/random.js';
import type { DecryptResult, SessionState } from '../ratchet/session-state.js';
import { ratchetDecrypt } from '../ratchet/session-state.js';
import { decodeSessionState, encodeSessionState } from '../ratchet/session-state.codec.js';
import type { PublicFacts, RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from '../redaction.js';
import type { SignalMessage } from '../wire/messages.js';

/** First byte of a serialized record. Version 1 must keep loading in every later version. */
export const SESSION_RECORD_FORMAT_VERSION = 1;

export class SessionRecord {
  /** States hold root, chain and ratchet keys: `#private`, so that no property walk can reach them. */
  #current: SessionState | null;
  #previous: SessionState[];

  private constructor(current: SessionState | null, previous: SessionState[]) {
    this.#current = current;
    this.#previous = previous;
  }

  /** @internal An empty record. */
  static _newFresh(): SessionRecord {
    return new SessionRecord(null, []);
  }

  static deserialize(buffer: Uint8Array): SessionRecord {
    const op = 'SessionRecord_Deserialize';
    if (buffer.length === 0 || buffer[0] !== SESSION_RECORD_FORMAT_VERSION) {
      fail(ErrorCode.InvalidRecord, op, `unknown session record version <${buffer[0] ?? 'none'}>`);
    }
    try {
      const r = new BinaryReader(buffer.subarray(1));
      let current: SessionState | null = null;
      const previous: SessionState[] = [];
      while (r.pos < r.len) {
        const [no, wt] = r.tag();
        if (no === 1 && wt === WireType.LengthDelimited) current = decodeSessionState(r.bytes());
        else if (no === 2 && wt === WireType.LengthDelimited) previous.push(decodeSessionState(r.bytes()));
        else r.skip(wt, no);
      }
      if (previous.length > ARCHIVED_STATES_MAX_LENGTH) throw new Error('too many archived states');
      return new SessionRecord(current, previous);
    } catch (cause) {
      return fail(ErrorCode.InvalidRecord, op, 'session record encoding was invalid', { cause });
    }
  }

  serialize(): Uint8Array {
    const w = new BinaryWriter().raw(Uint8Array.of(SESSION_RECORD_FORMAT_VERSION));
    if (this.#current) {
      w.tag(1, WireType.LengthDelimited).fork();
      encodeSessionState(this.#current, w);
      w.join();
    }
    for (const s of this.#previous) {
      w.tag(2, WireType.LengthDelimited).fork();
      encodeSessionState(s, w);
      w.join();
    }
    return w.finish();
  }

  /** Moves the current state (if any) to the front of the archive, dropping the oldest beyond 40. */
  archiveCurrentState(): void {
    if (!this.#current) return;
    this.#previous.unshift({ ...this.#current, pendingPreKey: null });
    if (this.#previous.length > ARCHIVED_STATES_MAX_LENGTH) this.#previous.length = ARCHIVED_STATES_MAX_LENGTH;
    this.#current = null;
  }

  localRegistrationId(): number {
    return this.requireCurrent('SessionRecord_GetLocalRegistrationId').localRegistrationId;
  }

  remoteRegistrationId(): number {
    return this.requireCurrent('SessionRecord_GetRemoteRegistrationId').remoteRegistrationId;
  }

  /** The identity key of the peer in the current state (what its messages are authenticated against), if any. */
  remoteIdentityKey(): PublicKey | null {
    return this.#current?.remoteIdentityKey ?? null;
  }

  /** True when there is a current state that can still send (not an unacknowledged one older than 30 days). */
  hasCurrentState(now: Date = new Date()): boolean {
    const s = this.#current;
    if (!s) return false;
    return !isExpired(s, now.getTime());
  }

  currentRatchetKeyMatches(key: PublicKey): boolean {
    return this.#current !== null && this.#current.senderChain.ratchetPublic.equals(key);
  }

  // ----- internal API (session layer) -----

  /** @internal */
  clone(): SessionRecord {
    return new SessionRecord(this.#current, this.#previous.slice());
  }

  /**
   * @internal The current state. A method, not a getter: Node's inspect can evaluate prototype getters
   * (`showHidden` with `getters`), and states hold keys.
   */
  _currentState(): SessionState | null {
    return this.#current;
  }

  /** @internal The archived states, most recent first. */
  _archivedStates(): readonly SessionState[] {
    return this.#previous;
  }

  /** @internal Replaces the current state without archiving (an update of the same session). */
  setCurrentState(state: SessionState): void {
    this.#current = state;
  }

  /** @internal Archives the current state and installs a new one. */
  promoteState(state: SessionState): void {
    this.archiveCurrentState();
    this.#current = state;
  }

  /**
   * @internal Makes the state whose initiator base key is `baseKey` current (promoting it from the archive if
   * needed). Returns false when no state matches.
   */
  promoteMatchingSession(version: number, baseKey: PublicKey): boolean {
    if (this.#current && this.#current.sessionVersion === version && this.#current.aliceBaseKey.equals(baseKey))
      return true;
    const i = this.#previous.findIndex((s) => s.sessionVersion === version && s.aliceBaseKey.equals(baseKey));
    if (i < 0) return false;
    const [s] = this.#previous.splice(i, 1);
    this.promoteState(s as SessionState);
    return true;
  }

  /**
   * @internal Trial decryption of a Whisper message: the current state, then each archived state. Returns the
   * plaintext and the updated record (a copy); `this` is never modified. DuplicatedMessage stops the search, as in
   * libsignal. Never for PreKey messages (see `decryptWithCurrentState`).
   */
  decrypt(
    message: SignalMessage,
    rng: Rng,
    unlimitedJumps: (s: SessionState) => boolean,
    operation: string,
  ): { plaintext: Uint8Array; record: SessionRecord } {
    if (!this.#current && this.#previous.length === 0)
      fail(ErrorCode.SessionNotFound, operation, 'no session available to decrypt');
    if (this.#current) {
      const r = attempt(this.#current, message, rng, unlimitedJumps);
      if (r) {
        const rec = this.clone();
        rec.#current = r.state;
        return { plaintext: r.plaintext, record: rec };
      }
    }
    for (let i = 0; i < this.#previous.length; i++) {
      const r = attempt(this.#previous[i] as SessionState, message, rng, unlimitedJumps);
      if (r) {
        const rec = this.clone();
        rec.#previous.splice(i, 1);
        rec.promoteState(r.state);
        return { plaintext: r.plaintext, record: rec };
      }
    }
    return fail(ErrorCode.InvalidMessage, operation, 'decryption failed');
  }

  /**
   * @internal Decryption by the current state alone, for the SignalMessage inside a PreKey message: the message's
   * base key named that state (or it was just created from the message), and no other state may stand in for it,
   * or a genuine but delayed Whisper message wrapped in a forged PreKey envelope would be accepted by an archived
   * state and the forged envelope's prekey bookkeeping applied. Returns the plaintext and the updated record (a
   * copy); `this` is never modified.
   */
  decryptWithCurrentState(
    message: SignalMessage,
    rng: Rng,
    unlimitedJumps: (s: SessionState) => boolean,
    operation: string,
  ): { plaintext: Uint8Array; record: SessionRecord } {
    if (!this.#current) return fail(ErrorCode.SessionNotFound, operation, 'no session available to decrypt');
    const r = attempt(this.#current, message, rng, unlimitedJumps);
    if (!r) return fail(ErrorCode.InvalidMessage, operation, 'decryption failed');
    const rec = this.clone();
    rec.#current = r.state;
    return { plaintext: r.plaintext, record: rec };
  }

  /** Whether there is a current state and how many are archived; never a key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('SessionRecord', this.facts());
  }

  toString(): string {
    return describeRedacted('SessionRecord', this.facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  private facts(): PublicFacts {
    return { currentState: this.#current !== null, archivedStates: this.#previous.length, keys: REDACTED };
  }

  private requireCurrent(operation: string): SessionState {
    if (!this.#current) fail(ErrorCode.SessionNotFound, operation, 'no current session state');
    return this.#current;
  }
}

/** One state's decryption: null when it cannot decrypt the message; DuplicatedMessage and non-protocol errors pass. */
function attempt(
  s: SessionState,
  message: SignalMessage,
  rng: Rng,
  unlimitedJumps: (s: SessionState) => boolean,
): DecryptResult | null {
  try {
    return ratchetDecrypt(s, message, rng, unlimitedJumps(s));
  } catch (e) {
    if (e instanceof SignalClientError && e.code === ErrorCode.DuplicatedMessage) throw e;
    if (e instanceof SignalClientError) return null;
    throw e;
  }
}

export function isExpired(s: SessionState, nowMs: number): boolean {
  return s.pendingPreKey !== null && nowMs - s.pendingPreKey.timestamp > MAX_UNACKNOWLEDGED_SESSION_AGE_MS;
}

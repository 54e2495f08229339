/**
 * Protocol limits, identical to libsignal's (rust/protocol/src/consts.rs, facts §5), each with its reason.
 * Changing any of them changes interoperability or storage bounds.
 */

/**
 * Largest forward jump within one chain: bounds the work a single (possibly forged) message can cause. A
 * note-to-self session (the peer is another device of our account) has no limit, as in libsignal; SPQR keeps the
 * same value as its own default (ratchet/spqr/key-sequence.ts) and stores a session's limit in its state.
 */
export const MAX_FORWARD_JUMPS = 25_000;
/** Skipped-message seeds kept per receiver chain: bounds storage; the oldest are dropped first. */
export const MAX_MESSAGE_KEYS = 2_000;
/** Receiver chains kept per session: late messages from older ratchet keys still decrypt, storage stays bounded. */
export const MAX_RECEIVER_CHAINS = 5;
/** Previous sessions kept per address for trial decryption (simultaneous initiation, re-established sessions). */
export const ARCHIVED_STATES_MAX_LENGTH = 40;
/** A session whose first message was never answered stops being used after this long (ms): its prekeys may be gone. */
export const MAX_UNACKNOWLEDGED_SESSION_AGE_MS = 30 * 24 * 60 * 60 * 1000;
/** Session state version this implementation creates (PQXDH + SPQR). */
export const SESSION_VERSION = 4;

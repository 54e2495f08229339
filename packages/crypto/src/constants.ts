/**
 * Every protocol limit of the package, each with its reason: the Double Ratchet and session limits identical to
 * libsignal's (rust/protocol/src/consts.rs, facts §5), SPQR's (its own constants upstream, equal in value), and
 * the ranges libsignal enforces on addresses, fingerprints and HKDF. Changing any of them changes
 * interoperability or storage bounds. Sizes fixed by a wire or key format (key lengths, MAC length, chunk size)
 * stay with their codec; this module holds no logic.
 */

// ----- Double Ratchet and sessions -----

/**
 * Largest forward jump within one chain: bounds the work a single (possibly forged) message can cause. A
 * note-to-self session (the peer is another device of our account) has no limit, as in libsignal; SPQR keeps
 * its own limit of the same value (SPQR_MAX_JUMP) and stores a session's limit in its state.
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

// ----- SPQR (the Sparse Post-Quantum Ratchet, ratchet/spqr/) -----

/**
 * Forward jump an SPQR receiving chain accepts in one step unless its session says otherwise: libsignal's SPQR
 * MAX_JUMP (facts §5, equal to MAX_FORWARD_JUMPS). It bounds the hashing one forged chain index can cause.
 */
export const SPQR_MAX_JUMP = 25_000;
/**
 * Forward jump a note-to-self session's SPQR chain accepts (its two ends are devices of one account, facts §5):
 * every chain index the wire can carry (a u32), so the limit never refuses, as libsignal lifts it for such
 * sessions. The hashing a far index costs is then bounded only by that range.
 */
export const SPQR_UNLIMITED_JUMPS = 0xffff_ffff;
/**
 * Out-of-order keys an SPQR receiving chain keeps, counted back from its newest index: libsignal's SPQR
 * MAX_OOO_KEYS (facts §5, equal to MAX_MESSAGE_KEYS). Older messages are refused as trimmed; interop depends on
 * the same window.
 */
export const SPQR_MAX_OOO_KEYS = 2_000;
/**
 * Stored skipped SPQR keys that trigger a sweep of the ones behind the window: a tenth more than the window (plus
 * one), so a sweep runs at most once per two hundred stored keys instead of on every message.
 */
export const SPQR_SWEEP_THRESHOLD = SPQR_MAX_OOO_KEYS + SPQR_MAX_OOO_KEYS / 10 + 1;
/**
 * Epochs of SPQR keys a stored state may hold (the sending epoch, the one before it, and epochs added since the
 * last send): a bound for loading, far above the two or three a conversation keeps, so a corrupt count cannot
 * make a load allocate without limit.
 */
export const SPQR_MAX_STORED_EPOCHS = 64;
/**
 * Chunks a stored SPQR erasure decoder may hold, as a multiple of the chunks its message needs: n systematic plus
 * n parity chunks is more than decoding ever keeps, and bounds a load.
 */
export const SPQR_MAX_DECODER_CHUNK_FACTOR = 2;

// ----- Addresses, fingerprints, HKDF -----

/** libsignal's DeviceId range (rust/core/src/address.rs): device ids outside it are refused everywhere. */
export const MIN_DEVICE_ID = 1;
export const MAX_DEVICE_ID = 127;
/** libsignal's accepted safety-number iteration range (fingerprint.rs): below 2 is no stretching, above is a DoS. */
export const FINGERPRINT_MIN_ITERATIONS = 2;
export const FINGERPRINT_MAX_ITERATIONS = 1_000_000;
/** HKDF-SHA256's output limit: 255 blocks of 32 bytes (RFC 5869 §2.3). */
export const HKDF_MAX_OUTPUT = 255 * 32;

// ----- Sender keys (group/) -----

/**
 * Sender-key states kept per (sender, distribution id): libsignal's MAX_SENDER_KEY_STATES (facts §5). A sender
 * that rotated its key a few times is still readable for its late messages; storage stays bounded. The oldest
 * state is dropped first. Forward jumps and kept out-of-order keys per state use MAX_FORWARD_JUMPS and
 * MAX_MESSAGE_KEYS above, as libsignal's group cipher does.
 */
export const MAX_SENDER_KEY_STATES = 5;

// ----- Sealed sender (sealed/) -----

/**
 * Server certificate key ids refused whatever their signature (libsignal's revocation list, facts §7): a leaked
 * server key is retired by listing its id here.
 */
export const REVOKED_SERVER_CERTIFICATE_KEY_IDS: readonly number[] = [0xdeadc357];
/**
 * Largest registration id the sealed sender v2 sent form can carry: each device entry packs it into 14 bits
 * (facts §7, `InvalidRegistrationId` above it).
 */
export const SEALED_SENDER_V2_MAX_REGISTRATION_ID = 0x3fff;

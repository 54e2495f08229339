/**
 * Tunables of the messenger core, each with the reason for its value. Protocol-wide limits (sizes, caps) live in
 * @cove/protocol's limits.ts; these are client policy.
 */

/** One-time EC and Kyber prekeys made at registration and per top-up: the server's per-upload maximum. */
export const PREKEY_BATCH = 100;
/** Top up when the server holds fewer one-time keys than this: room for a burst of new contacts before the next connect. */
export const PREKEY_LOW_WATER = 30;
/** Rotate the signed prekey and the last-resort Kyber prekey this often (Signal rotates every few days). */
export const SIGNED_PREKEY_ROTATION_MS = 7 * 24 * 3600 * 1000;
/** Keep retired signed / last-resort private halves this long: PreKey messages may arrive weeks late from offline senders. */
export const OLD_PREKEY_GRACE_MS = 30 * 24 * 3600 * 1000;
/** Forget processed envelope GUIDs after this long: the server deletes acknowledged envelopes immediately, so redelivery only happens within a connection's lifetime. */
export const PROCESSED_ENVELOPE_RETENTION_MS = 30 * 24 * 3600 * 1000;
/** Signal's iteration count for safety numbers (fingerprint version 2). */
export const FINGERPRINT_ITERATIONS = 5200;
export const FINGERPRINT_VERSION = 2;
/** Rebuild a session with the same peer device at most this often, so two broken sides cannot loop. */
export const SESSION_RESET_INTERVAL_MS = 30_000;
/**
 * Sent messages stay re-sendable this long after the server first accepted them: long enough for a device that was
 * offline overnight to ask, short enough that a credential or key obtained later cannot pull old plaintext.
 */
export const RESEND_WINDOW_MS = 24 * 3600 * 1000;
/** Re-send one message to one device at most this often: a re-send that fails again may be asked for once more. */
export const MAX_RESENDS_PER_MESSAGE = 2;
/** Budgets (retry requests answered, session resets made) are counted per peer device over this window. */
export const BUDGET_WINDOW_MS = 3600 * 1000;
/**
 * Answer at most this many retry requests per peer device per window: a device that lost its session asks once per
 * run of undecryptable envelopes; more is a flood, and each answer costs encryptions and sends.
 */
export const MAX_RETRY_REQUESTS_PER_WINDOW = 10;
/**
 * Rebuild the session with one peer device (and ask it to re-send) at most this many times per window: garbage
 * envelopes (which a server can inject) must not make this device churn sessions and prekeys without end. Past it
 * the messenger reports `session-reset-limited` and stops until the window ends.
 */
export const MAX_SESSION_RESETS_PER_WINDOW = 5;
/** Outbox retry backoff: first delay and cap. */
export const OUTBOX_RETRY_BASE_MS = 1_000;
export const OUTBOX_RETRY_MAX_MS = 5 * 60 * 1000;
/** Give up on sending a message after this long and mark it failed (the user can retry). */
export const OUTBOX_GIVE_UP_MS = 24 * 3600 * 1000;
/** Rounds of 409/410 handling for one send before treating it as a transient failure. */
export const MAX_DEVICE_SYNC_ROUNDS = 4;
/**
 * WebSocket reconnect backoff: first delay and cap. The cap is short because a queued message waits for the socket:
 * a user whose server came back should see it leave within seconds (it was 30 s and a message went out ~29 s after a
 * restart). Each delay is jittered down by up to RECONNECT_JITTER of itself so a crowd of clients does not return
 * in lockstep after a restart; a page regaining the network or the user's attention retries at once (reconnectNow).
 */
export const RECONNECT_BASE_MS = 500;
export const RECONNECT_MAX_MS = 10_000;
export const RECONNECT_JITTER = 0.5;
/** Heartbeat: ping this often and drop the connection when the pong does not come back within the timeout. */
export const PING_INTERVAL_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
/** Wait this long for the answer to a send frame before falling back to HTTP. */
export const SOCKET_SEND_TIMEOUT_MS = 15_000;
/** Wait this long for `ready` after opening the socket. */
export const SOCKET_AUTH_TIMEOUT_MS = 10_000;
/** Look for expired disappearing messages this often while connected (they are hidden from queries at once). */
export const EXPIRY_SWEEP_INTERVAL_MS = 60_000;

/** The device that registered the account: the server lets only it manage devices and delete the account. */
export const PRIMARY_DEVICE_ID = 1;
/**
 * A sender certificate (sealed sender) is replaced when it has less than this left: it lives a day, so a client
 * refreshes about twice a day and never seals with one that could expire while the message waits in a queue.
 */
export const SENDER_CERTIFICATE_REFRESH_MS = 12 * 60 * 60 * 1000;

/**
 * After a recipient whose access key we do not hold refused a sealed send without it (they accept sealed messages
 * only from contacts), sends to them go identified for this long before the next sealed try: a day, so a user who
 * opens up to "anyone" is reached sealed again soon, while a closed one costs at most one refused request a day.
 */
export const SEALED_PROBE_RETRY_MS = 24 * 60 * 60 * 1000;

/**
 * Limits shared by the server and its clients, each with the reason for its value. The server enforces them and
 * publishes them in `GET /v1/info`; clients use them to size their uploads. Nothing here is configurable at run time.
 */

/**
 * A primary plus seven linked devices: phone, laptop, tablet, work browser and a few more. The server's `MAX_DEVICES`
 * may lower it, never raise it (send bodies are sized for this many devices per account).
 */
export const MAX_DEVICES_PER_ACCOUNT = 8;

/** Device ids fit in 7 bits in Signal's protocol address encoding; ids are never reused below this bound. */
export const MAX_DEVICE_ID = 127;

/** Registration ids are 14-bit values chosen by the client (libsignal's range). */
export const MAX_REGISTRATION_ID = 16383;

/** Prekey ids are 24-bit in libsignal's storage formats. */
export const MAX_PREKEY_ID = 0xffffff;

/** Stored one-time keys per device and kind: a client replenishes at ~10% left, and 200 covers bursts of new contacts. */
export const MAX_STORED_PREKEYS = 200;

/** Keys per kind in a single upload; a client uploads 100 at a time. */
export const MAX_PREKEYS_PER_UPLOAD = 100;

/** One encrypted message for one device: text and control messages are small; attachments travel elsewhere. */
export const MAX_ENVELOPE_CONTENT_BYTES = 64 * 1024;

/** Sum of envelope contents in one send (every device of one recipient). */
export const MAX_SEND_CONTENT_BYTES = 256 * 1024;

/**
 * Recipient accounts of one multi-recipient send (`PUT /v1/messages/multi`, `send-multi`): a group has at most 1,000
 * members, and its sender is among them only for its own other devices, so 1,000 accounts cover the largest group.
 */
export const MAX_MULTI_RECIPIENT_ACCOUNTS = 1000;

/**
 * Recipient devices of one multi-recipient send: every member of the largest group with the most devices an account
 * may have. The body stays below both transports' limits: 8,000 device entries (~40 bytes of JSON each) plus 1,000
 * account entries (~70 bytes) plus the largest content in base64 (~87 KB) is ~480 KB < 512 KiB.
 */
export const MAX_MULTI_RECIPIENT_DEVICES = MAX_MULTI_RECIPIENT_ACCOUNTS * MAX_DEVICES_PER_ACCOUNT;

/**
 * One provisioning message (ciphertext bytes): the identity key pair, ids and a code are ~300 bytes; the rest is the
 * contact list with verified states and settings (~150 bytes a contact), so 128 KiB carries ~800 contacts.
 */
export const MAX_PROVISIONING_MESSAGE_BYTES = 128 * 1024;

/** How long a provisioning channel waits for its message: time to scan a QR code and confirm on the other device. */
export const PROVISIONING_CHANNEL_TTL_MS = 10 * 60 * 1000;

/** Bytes of an unidentified access key (`Unidentified-Access-Key`), derived from the profile key as in Signal. */
export const UNIDENTIFIED_ACCESS_KEY_BYTES = 16;
/**
 * A sealed multi-recipient message (libsignal's SealedSenderMultiRecipientMessage): the largest content plus, for each
 * of the most recipient accounts, its 17-byte ServiceId, three bytes per device of the most devices and 48 bytes of
 * key material, plus the header. ~150 KB, ~200 KB in base64: below both transports' body limits.
 */
export const MAX_SEALED_MULTI_RECIPIENT_BYTES =
  MAX_ENVELOPE_CONTENT_BYTES + 16 + MAX_MULTI_RECIPIENT_ACCOUNTS * (17 + 3 * MAX_DEVICES_PER_ACCOUNT + 48);
/** Sender certificates live this long: a stolen one is useless after a day; clients refresh well before. */
export const SENDER_CERTIFICATE_LIFETIME_MS = 24 * 60 * 60 * 1000;
/** Any HTTP JSON body: 100 Kyber prekeys of 1,569 bytes in base64 plus signatures are ~300 KB. */
export const MAX_HTTP_BODY_BYTES = 1024 * 1024;

/** Any WebSocket frame: a send of the largest allowed size in base64 and JSON fits. */
export const MAX_WEBSOCKET_FRAME_BYTES = 512 * 1024;

/** Envelopes per page of `GET /v1/messages`. */
export const ENVELOPE_PAGE_SIZE = 100;

/** Acknowledgements in one `ack` frame. */
export const MAX_ACKS_PER_FRAME = 100;

/** Usernames: 3 to 32 characters of letters, digits, `_` and `.`. */
export const USERNAME_PATTERN = /^[A-Za-z0-9_.]{3,32}$/;

/**
 * An organization directory query (`GET /v1/org/directory?q=`): a username prefix of 1 to 32 username characters.
 * One character is enough: the directory exists so that members find each other, and the result bound and the rate
 * limit (not the prefix length) are what keep a listing slow.
 */
export const DIRECTORY_QUERY_PATTERN = /^[A-Za-z0-9_.]{1,32}$/;
/** Directory matches per query: a screenful to pick from; a longer prefix narrows it. */
export const MAX_DIRECTORY_RESULTS = 20;

/** Lengths of serialized public values (libsignal formats). */
export const EC_PUBLIC_KEY_BYTES = 33;
export const KYBER_PUBLIC_KEY_BYTES = 1569;
export const SIGNATURE_BYTES = 64;
/** Device credentials are at least 32 random bytes (256 bits), so one hash of them cannot be brute-forced. */
export const MIN_SECRET_BYTES = 32;
export const MAX_SECRET_BYTES = 64;

/**
 * Lengths an encrypted profile field may have (docs/profiles.md): every field is padded to one of a few size buckets
 * and sealed with AES-256-GCM (4-byte length prefix, 29 bytes of format byte, nonce and tag), so its length shows only
 * its bucket. The same buckets as @cove/crypto's PROFILE_BUCKETS (a client test checks they agree). The server takes
 * no other length, so a client cannot leak a length by mistake and nobody can store arbitrary data as a profile.
 */
export const PROFILE_CIPHERTEXT_SIZES = {
  name: [64, 256].map((b) => b + 33),
  about: [128, 256, 512].map((b) => b + 33),
  avatar: [8192, 16384, 32768, 65536, 131072].map((b) => b + 33),
} as const;

/** Profile versions are 32 bytes of HKDF output written as 64 lower-case hex digits (docs/profiles.md). */
export const PROFILE_VERSION_PATTERN = /^[0-9a-f]{64}$/;

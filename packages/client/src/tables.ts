/**
 * The core's tables: the row type of every table (`TableRows`, which types storage reads and writes), the shapes of
 * everything stored, conversation ids, and the key layout of each table (see platform.ts TABLES). Keys are built so
 * that the orderings the core needs are plain key orders: zero-padded numbers sort numerically, and a conversation's
 * messages share a prefix. This module holds types and key helpers only. (Not to be confused with the serialized
 * protocol states that @cove/crypto calls records.)
 */

import type { AttachmentPointer } from '@cove/protocol';

/** Messages, outbox entries: fixed-width decimal so that string order is numeric order. */
export const pad = (value: number, width = 16): string => value.toString().padStart(width, '0');

export const metaKeys = {
  account: 'account',
  /** The pinned organization key, a changed key the server presented, and (owner devices) its private half. */
  organization: 'organization',
  profile: 'profile',
  ownProfile: 'ownProfile',
  prekeyState: 'prekeyState',
  sequence: 'sequence',
  /** Password login: the account backup key (from OPAQUE's export key) and what was last uploaded (password.ts). */
  passwordBackup: 'passwordBackup',
  /** The version of the key layout below the data was written in (storage-migrations.ts); absent: layout 1. */
  storageLayout: 'storageLayout',
} as const;

/**
 * Conversation ids: one per conversation, independent of how its messages are keyed. A direct conversation is
 * `direct:<peer account id>`; a group will be `group:<group id>`.
 */
export const DIRECT_CONVERSATION_PREFIX = 'direct:';

export const directConversationId = (accountId: string): string => `${DIRECT_CONVERSATION_PREFIX}${accountId}`;

/** Group conversations: `group:<group id>` (the id in lower-case hex, 64 characters). */
export const GROUP_CONVERSATION_PREFIX = 'group:';

export const groupConversationId = (groupId: string): string => `${GROUP_CONVERSATION_PREFIX}${groupId}`;

/** The conversation of organization notices (notices.ts): read-only, pinned, one per device. */
export const NOTICES_CONVERSATION_ID = 'notices';

/** The group id of a group conversation id, or null for any other id. */
export const groupOf = (conversationId: string): string | null =>
  conversationId.startsWith(GROUP_CONVERSATION_PREFIX) ? conversationId.slice(GROUP_CONVERSATION_PREFIX.length) : null;

/** The peer of a direct conversation id, or null for any other id. */
export const directPeerOf = (conversationId: string): string | null =>
  conversationId.startsWith(DIRECT_CONVERSATION_PREFIX)
    ? conversationId.slice(DIRECT_CONVERSATION_PREFIX.length)
    : null;

/** The conversation id of a message key ("<conversationId>/<sequence>"). */
export const conversationOfMessageKey = (messageKey: string): string => messageKey.slice(0, messageKey.indexOf('/'));

/** What registration creates; never changes afterwards. */
export type AccountRecord = {
  serverUrl: string;
  accountId: string;
  deviceId: number;
  registrationId: number;
  /** Device credential (32 random bytes). */
  secret: Uint8Array;
  /** Serialized IdentityKeyPair (private key material). */
  identityKeyPair: Uint8Array;
  createdAt: number;
};

export type ProfileRecord = { username: string | null };

/**
 * This account's encrypted profile as the owner wrote it (docs/profiles.md): the profile key (secret: shared only in
 * end-to-end encrypted content), the fields, and what the server holds — the version uploaded (null: the current key's
 * profile is not on the server yet) and whether the access key derived from this key was uploaded.
 */
export type OwnProfileRecord = {
  profileKey: Uint8Array;
  name: string;
  about: string;
  aboutEmoji: string;
  /** The avatar image (a square JPEG), or null. */
  avatar: Uint8Array | null;
  uploadedVersion: string | null;
  accessKeyUploaded: boolean;
  /** When the key was made (creation or the last rotation). */
  keyCreatedAt: number;
};

/** A contact's profile as last fetched and decrypted with its profile key (absent fields: none set). */
export type ContactProfile = {
  name: string | null;
  about: string | null;
  aboutEmoji: string | null;
  avatar: Uint8Array | null;
  /** The version it was fetched under (a new profile key gives a new version: refetch). */
  version: string;
  fetchedAt: number;
};

/** Key ids and rotation times, changed only by prekey upkeep. */
export type PrekeyStateRecord = {
  nextPreKeyId: number;
  nextKyberPreKeyId: number;
  nextSignedPreKeyId: number;
  currentSignedPreKeyId: number;
  currentKyberLastResortId: number;
  signedPreKeyRotatedAt: number;
  kyberLastResortRotatedAt: number;
};

export type PreKeyEntry = { record: Uint8Array; createdAt: number };
export type SignedPreKeyEntry = { record: Uint8Array; createdAt: number; retiredAt: number | null };
export type KyberPreKeyEntry = { record: Uint8Array; createdAt: number; lastResort: boolean; retiredAt: number | null };
export type KyberPreKeyUsedEntry = { at: number };
export type SessionEntry = { record: Uint8Array; updatedAt: number };

export type TrustLevel = 'trusted-first-use' | 'verified' | 'unverified';

export type IdentityEntry = {
  publicKey: Uint8Array;
  trust: TrustLevel;
  firstSeenAt: number;
  /** When the key last changed (null: never). */
  changedAt: number | null;
  /** Set when a key that had been verified changed: sending stays blocked until verify(). */
  blocked: boolean;
};

export type DeviceAddress = { deviceId: number; registrationId: number };

export type ContactEntry = {
  accountId: string;
  username: string | null;
  /** Devices as last learned from a bundle or a 409/410 answer (null: unknown yet). */
  devices: DeviceAddress[] | null;
  updatedAt: number;
  /** On the block list since then (requests.ts): their messages are dropped, nothing is sent to them. */
  blockedAt?: number;
  /** Their profile key, taken only from content their own session carried (secret). */
  profileKey?: Uint8Array;
  /** Their profile as last fetched (absent: never fetched, or their key changed since). */
  profile?: ContactProfile;
  /** The name the user gave them on this device; shown before their profile name and username. */
  nickname?: string;
  /** The version of OUR profile key we last sent them (absent: never): a different current version re-sends it. */
  sharedProfileKeyVersion?: string;
};

export type ConversationEntry = {
  /** The conversation id (storage key): `direct:<peerAccountId>` or `group:<groupId>`. */
  id: string;
  /**
   * `direct` or `group` (absent on rows written before groups: direct; layout 3 writes it everywhere), or `notices`:
   * the one read-only conversation of organization notices (id `notices`, no peer).
   */
  kind?: 'direct' | 'group' | 'notices';
  /** Groups: the group id (the state is in table `groups`); the title is copied here for lists. */
  groupId?: string;
  title?: string;
  /** Direct conversations: the peer; groups: the empty string. */
  peerAccountId: string;
  peerUsername: string | null;
  createdAt: number;
  lastMessageAt: number;
  lastMessageKey: string | null;
  unreadCount: number;
  /**
   * A message request (requests.ts): set when someone who is not a contact started this conversation — a stranger's
   * first direct message, or a group a non-contact added us to — and cleared when the user accepts or writes in it.
   * Absent means accepted (every row written before requests existed is one the user already had).
   */
  request?: boolean;
  /** Groups that are requests: who added us (shown, and blocked by "Block"). */
  invitedBy?: string;
  /**
   * Direct conversations: the disappearing-message timer our messages carry, in seconds (null or absent: off); set
   * by either side with a timer update (a system line in the history).
   */
  expireTimerSeconds?: number | null;
};

export type MessageStatus = 'sending' | 'sent' | 'delivered' | 'read' | 'failed' | 'received' | 'undecryptable';

/**
 * An attachment of a message: the pointer as it travels (key, digest, sizes, metadata; secret, stored like the rest
 * of the row) and where its ciphertext is on this device. `state`: `remote` (not downloaded yet), `local` (the blob
 * is in the platform's blob store under `blobId`, verified when it was downloaded), `failed` (the blob failed
 * verification or could not be fetched: `error` says which; no plaintext was ever released).
 */
export type AttachmentEntry = {
  storageId: string;
  key: Uint8Array;
  digest: Uint8Array;
  paddedSize: number;
  plainSize: number;
  contentType: string;
  fileName: string | null;
  width: number | null;
  height: number | null;
  thumbnail: Uint8Array | null;
  durationMs: number | null;
  waveform: Uint8Array | null;
  voiceNote: boolean;
  caption: string | null;
  blobId: string;
  state: 'remote' | 'local' | 'failed';
  error: string | null;
  /**
   * Where a shell saved a decrypted copy on this device (the CLI's `listen`), with its size and SHA-256 as written:
   * shown by `history`, and removed with the message when the file there is still that copy. Absent when none.
   */
  savedCopy?: SavedCopy | null;
  /**
   * The SHA-256 of every sealed chunk of the local blob, as verified when it was downloaded (32 bytes per chunk):
   * reading the attachment checks them against the digest and then decrypts in one pass instead of verifying the
   * whole blob again. Absent (older rows, the sender's own blobs): the read verifies first.
   */
  chunkHashes?: Uint8Array | null;
};

/** A decrypted copy of an attachment a shell wrote outside the blob store. */
export type SavedCopy = { path: string; size: number; sha256: string };

/**
 * The upload state of one outgoing attachment, in its outbox entry (committed with the history entry): the tus
 * upload URL, the blob's id in the local store and length, and the last offset the server confirmed. The key and
 * digest are in the entry's encoded content and the message row. `done` once the server holds all of it.
 * `uploadUrl` is null while the upload is not created yet (the server was unreachable when the file was sent): the
 * uploader creates it, then writes the storage id into the message and the entry's content (empty until then).
 */
export type PendingUpload = {
  uploadUrl: string | null;
  blobId: string;
  blobSize: number;
  offset: number;
  done: boolean;
};

export type QuoteEntry = { timestamp: number; authorAccountId: string; text: string };

/** One person's reaction to a message (one per person: a newer one replaces it); `timestamp` is its send time. */
export type ReactionEntry = { authorAccountId: string; emoji: string; timestamp: number };

/** An earlier text of an edited message, with the time it was written (the original's or an edit's send time). */
export type EditVersion = { text: string; timestamp: number };

/** Delivery and read times of an outgoing message at one recipient (server timestamps of the receipts). */
export type RecipientReceipts = { accountId: string; deliveredAt: number | null; readAt: number | null };

export type MessageEntry = {
  /** The storage key: "<conversationId>/<sequence>". */
  id: string;
  /** The conversation id, `direct:<peer account id>` (the peer is the author of incoming messages). */
  conversationId: string;
  direction: 'incoming' | 'outgoing';
  authorAccountId: string;
  authorDeviceId: number | null;
  /** The sender's timestamp: with the author, the message's identity across devices. */
  timestamp: number;
  serverTimestamp: number | null;
  /** Local time the message was stored (sent or received). */
  storedAt: number;
  text: string;
  quote: QuoteEntry | null;
  expireTimerSeconds: number | null;
  status: MessageStatus;
  /** Incoming: whether the user has read it. */
  read: boolean;
  /** Outgoing failures and undecryptable placeholders: a short reason code. */
  error: string | null;
  /** Files, images, voice notes (absent on messages without any, and on rows stored before attachments existed). */
  attachments?: AttachmentEntry[];
  /** Reactions, one per person (absent: none). */
  reactions?: ReactionEntry[];
  /** Edited: the earlier texts, oldest first, and the send time of the edit that wrote `text` (absent: never edited). */
  edits?: EditVersion[];
  editedAt?: number;
  /** Deleted for everyone at this time: text, quote, attachments, reactions and edits are gone (a placeholder). */
  deletedAt?: number;
  /** Outgoing: delivery and read times per recipient, from their receipts (absent: none yet). */
  receipts?: RecipientReceipts[];
  /** A group's system line ("Ann added Ben"): what changed, by whom (the author); `text` is an English rendering. */
  system?: GroupChange;
  /**
   * An organization notice (conversation `notices`): the role the sender's certificate proved when it arrived, the
   * sender's username as the server confirmed it (null when unconfirmed), and that certificate (body and signature),
   * kept so a history transfer can hand it to a new device that checks it again (absent on notices stored before).
   */
  notice?: {
    role: 'owner' | 'admin';
    senderUsername: string | null;
    roleCertificate?: Uint8Array;
    roleCertificateSignature?: Uint8Array;
  };
};

export type GroupRole = 'admin' | 'member';
export type GroupMemberEntry = { accountId: string; role: GroupRole; username: string | null };

/**
 * One change between two revisions of a group, as a system line shows it: `created`, members `added`, `removed`
 * or who `left`, a new `title`, members made `admin`, a new `timer`. Account ids with the usernames known then.
 */
export type GroupChange = {
  kind: 'created' | 'added' | 'removed' | 'left' | 'title' | 'admin' | 'timer' | 'description';
  revision: number;
  members: GroupMemberEntry[];
  title: string | null;
  expireTimerSeconds: number | null;
};

/**
 * A group as this member's client holds it (table `groups`, key: the id in hex): the state of its latest applied
 * revision and whether we are still in it. The master key and the member list never leave the members' devices
 * (the server sees neither). Our own sender key for it is in `senderKeys` (ownSenderKeyKey).
 */
export type GroupEntry = {
  id: string;
  masterKey: Uint8Array;
  revision: number;
  title: string;
  description: string | null;
  /** An attachment pointer (as @cove/protocol's AttachmentPointer), when the group has an avatar. */
  avatar: AttachmentPointer | null;
  members: GroupMemberEntry[];
  expireTimerSeconds: number | null;
  /** False once we left or were removed: nothing is sent, and nothing more is accepted but a re-adding update. */
  active: boolean;
  createdAt: number;
  updatedAt: number;
};

/**
 * Our sender key for one group: the distribution id of our current chain (a UUID; the chain itself is a
 * `senderKeys` record under our own address) and every member device that was given it ("<account>.<device>.<reg
 * id>"). Deleted on rotation (a member removed or left, or a holder device no longer among its account's current
 * devices: group-sender.ts): the next send starts a new chain and distributes it afresh.
 */
export type OwnSenderKeyEntry = {
  distributionId: string;
  holders: string[];
  /**
   * Holders owed our distribution message again (a retry request: the device rebuilt its session and may have lost
   * the chain). They stay holders, so that their removal still rotates the key; absent on rows written before.
   */
  reshare?: string[];
  createdAt: number;
};

/** A member device's sender key chain (serialized SenderKeyRecord) for one distribution id. */
export type SenderKeyEntry = { record: Uint8Array; updatedAt: number };

/**
 * Which distribution id a member device last gave us for a group: only messages on it are accepted from that
 * device for that group (a removed member's or another group's chain is refused).
 */
export type MemberKeyEntry = { distributionId: string; updatedAt: number };

/**
 * `action` carries a reaction, an edit or a delete for everyone (encoded content; its history change was committed with
 * it; it is not logged for re-sending). `retry-unavailable` answers a retry request for timestamps that were not messages (receipts, typing); `resend`
 * sends a logged message again to the one device that asked for it (the recipient's other devices get a null
 * message, since a send must cover every device).
 */
export type OutboxKind =
  | 'data'
  | 'receipt'
  | 'typing'
  | 'retry'
  | 'retry-unavailable'
  | 'resend'
  /** A group message: encrypted once with our sender key, sent in one multi-recipient request (destination: `group:<id>`). */
  | 'group'
  /** Pairwise control content for groups (a group update, our sender key): the content as is, to every device. */
  | 'group-control'
  /** A reaction, an edit or a delete for everyone (see above). */
  | 'action'
  /** Our new profile key after a rotation, to every device of a contact that had the old one. */
  | 'profile-key'
  /**
   * To this account's own other devices (destination: our own account id): a sent transcript, a read sync, or a null
   * message announcing a newly linked device. Skipped when the account has no other device.
   */
  | 'sync';

export type OutboxEntry = {
  /** The storage key (a sequence number). */
  id: string;
  destination: string;
  kind: OutboxKind;
  timestamp: number;
  /** Encoded Content, unpadded. */
  content: Uint8Array;
  /** For data messages, the history entry whose status this send drives. */
  messageKey: string | null;
  /** Receipts/retries: the timestamps carried (merged while waiting). */
  timestamps: number[];
  receiptType: 'delivery' | 'read' | null;
  /** Retry: the peer device whose session is rebuilt before sending. */
  resetDeviceId: number | null;
  /** Resend: the only device that gets the content (absent in entries stored before re-sends were logged). */
  deviceId?: number | null;
  /** Resend: the identity key the content was first encrypted to; any other key is refused. */
  identityKey?: Uint8Array | null;
  /** Data messages with attachments: their uploads, finished before the content is sent. */
  uploads?: PendingUpload[];
  /**
   * An organization notice (notices.ts): sent identified, marked as a notice for the server (transcript apart). Kind
   * `group` to {@link NOTICES_DESTINATION}: one multi-recipient send under our notice sender key (group-sender.ts);
   * kind `data` to one member in entries stored before notices went as one send.
   */
  notice?: boolean;
  attempts: number;
  nextAttemptAt: number;
  createdAt: number;
  lastError: string | null;
};

export type ProcessedEnvelopeEntry = { at: number };

/** One device a logged message was encrypted for, with the identity key of that first encryption. */
export type ResendDevice = {
  deviceId: number;
  identityKey: Uint8Array;
  resent: number;
  /** Group messages (logged under groupResendLogKey): the member account the device belongs to. */
  accountId?: string;
};

/**
 * A sent data message kept for re-sending on a retry request (table `resendLog`, key resendLogKey): its encoded
 * Content, every device it was accepted for with the identity key it was first encrypted to, and when it stops
 * being re-sendable (a day after it was first accepted, sooner for a disappearing message).
 */
export type ResendLogEntry = {
  peer: string;
  timestamp: number;
  content: Uint8Array;
  devices: ResendDevice[];
  createdAt: number;
  expiresAt: number;
};

/** A per-peer-device counter over a fixed window (retry requests answered, session resets made). */
export type BudgetEntry = { windowStart: number; count: number; notified: boolean };

export const sessionKey = (accountId: string, deviceId: number): string => `${accountId}.${deviceId}`;
/** senderKeys: a chain record of a sender device, our own sender key of a group, a member device's distribution id. */
export const senderKeyRecordKey = (accountId: string, deviceId: number, distributionId: string): string =>
  `r/${accountId}.${deviceId}/${distributionId.toLowerCase()}`;
export const ownSenderKeyKey = (groupId: string): string => `o/${groupId}`;
/**
 * The scope of organization-notice sender keys where a group id goes in `ownSenderKeyKey` (our own notice key, an
 * admin device's) and `memberKeyKey` (the notice distribution id an admin device gave us); never a group id (hex).
 */
export const NOTICES_SCOPE = 'notices';
/** The outbox destination of a notice (one entry, kind `group`, `notice: true`: one multi-recipient send). */
export const NOTICES_DESTINATION = 'notices';
export const memberKeyKey = (groupId: string, accountId: string, deviceId: number): string =>
  `m/${groupId}/${accountId}.${deviceId}`;
/** A group message we sent, kept for re-sending on a retry request (resendLog; peer = the group conversation). */
export const groupResendLogKey = (timestamp: number): string => `g/${pad(timestamp)}`;
/** Messages by conversation, author and sender timestamp (receipts, retries, dedupe). */
export const messageIndexKey = (conversationId: string, authorAccountId: string, timestamp: number): string =>
  `${conversationId}/${authorAccountId}/${pad(timestamp)}`;
/** Resend log: the entry of a message, and its expiry index (due entries first in key order). */
export const resendLogKey = (peer: string, timestamp: number): string => `m/${peer}/${pad(timestamp)}`;
export const resendExpiryKey = (expiresAt: number, peer: string, timestamp: number): string =>
  `x/${pad(expiresAt)}/${peer}/${pad(timestamp)}`;
/** Meta keys of the per-peer-device budgets. */
export const BUDGET_PREFIX = 'budget/';
export const budgetKey = (kind: 'retry' | 'reset', accountId: string, deviceId: number): string =>
  `${BUDGET_PREFIX}${kind}/${accountId}.${deviceId}`;
export const kyberUsedKey = (kyberId: number, signedId: number, baseKey: Uint8Array): string =>
  `${pad(kyberId, 8)}/${pad(signedId, 8)}/${Array.from(baseKey, (b) => b.toString(16).padStart(2, '0')).join('')}`;

/** The fixed keys of the `meta` table and their rows. */
export type MetaRows = {
  account: AccountRecord;
  profile: ProfileRecord;
  ownProfile: OwnProfileRecord;
  prekeyState: PrekeyStateRecord;
  passwordBackup: PasswordBackupRecord;
  storageLayout: number;
  organization: OrganizationRecord;
};

/**
 * The organization as this device knows it (organization.ts): the key pinned on first use, a different key the
 * server presented later (the loud warning; certificates under it are ignored), the private half on the owner's
 * devices only (secret, like the identity key), and the audit log head this device last verified.
 */
export type OrganizationRecord = {
  pinnedKey: Uint8Array;
  pinnedAt: number;
  presentedKey: Uint8Array | null;
  privateKey: Uint8Array | null;
  auditHead: { seq: number; hash: string } | null;
};

/**
 * This device knows the account's password backup key (it set the password or logged in with it): it re-seals the
 * backup when contacts or settings change. `digest` is the keyed digest of the content last uploaded.
 */
export type PasswordBackupRecord = { key: Uint8Array; digest: Uint8Array; uploadedAt: number };

/** A conversation's preferences on this device (`chat/<conversation id>`, see chat-preferences.ts). */
export type ChatPreferencesRecord = {
  /** Muted until this time (ms since the epoch; `MUTED_FOREVER` for good), or null. */
  mutedUntil: number | null;
  /** When it was pinned (orders the pinned ones), or null. */
  pinnedAt: number | null;
  /** Archived: the conversation's last message key when it was archived ('' for none), or null when not archived. */
  archivedAfter: string | null;
};

/**
 * Any `meta` row: a fixed key's record, a chat's preferences (`chat/…`), a budget (`budget/…`), a session-reset time
 * (`reset/…`, ms), a conversation's draft (`draft/…`: the text) or an expiry index entry (`expiry/…`: the message
 * key). Readers of a prefix narrow by shape.
 */
export type MetaValue = MetaRows[keyof MetaRows] | ChatPreferencesRecord | BudgetEntry | number | string;

/** The row type of every table (platform.ts TABLES): what `get`, `list` and `commit` check against. */
export type TableRows = {
  meta: MetaValue;
  preKeys: PreKeyEntry;
  signedPreKeys: SignedPreKeyEntry;
  kyberPreKeys: KyberPreKeyEntry;
  kyberPreKeysUsed: KyberPreKeyUsedEntry;
  sessions: SessionEntry;
  identities: IdentityEntry;
  contacts: ContactEntry;
  /** Username (lower case) to account id. */
  usernames: string;
  conversations: ConversationEntry;
  messages: MessageEntry;
  /** To the message key. */
  messageIndex: string;
  outbox: OutboxEntry;
  processedEnvelopes: ProcessedEnvelopeEntry;
  /** Entries (`m/…`) and their expiry index (`x/…`: the entry's key). */
  resendLog: ResendLogEntry | string;
  /** Groups by id (hex). */
  groups: GroupEntry;
  /** Sender keys: member chains (`r/…`), our own per group (`o/…`), member distribution ids (`m/…`). */
  senderKeys: SenderKeyEntry | OwnSenderKeyEntry | MemberKeyEntry;
};

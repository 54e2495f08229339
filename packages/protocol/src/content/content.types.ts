/**
 * The Content values clients build and read (the public shape of content.proto, with timestamps as numbers and
 * enums as words), the context a decode is checked in, and the one error type the codec throws.
 * It does not encode, decode or check anything: see content.codec.ts and content.bounds.ts.
 */

export type Quote = { timestamp: number; authorAccountId: string; text: string };
/**
 * Where an attachment's encrypted blob is stored and how to verify and decrypt it (format v1, docs/attachments.md),
 * with what a receiver shows before downloading it. Optional fields are absent when unknown or empty.
 */
export type AttachmentPointer = {
  /** The server's id of the blob. */
  storageId: string;
  /** The attachment's own AES-256 key (32 bytes). Secret: never log a pointer. */
  key: Uint8Array;
  /** The blob's digest (32 bytes), verified before any plaintext is released. */
  digest: Uint8Array;
  /** Padded plaintext size (the size bucket); fixes the blob's length. */
  paddedSize: number;
  /** The file's own size (≤ paddedSize). */
  plainSize: number;
  /** MIME type, e.g. "image/jpeg". */
  contentType: string;
  fileName?: string;
  width?: number;
  height?: number;
  thumbnail?: Uint8Array;
  blurhash?: string;
  durationMs?: number;
  waveform?: Uint8Array;
  voiceNote?: boolean;
  caption?: string;
};
export type DataMessage = {
  text: string;
  timestamp: number;
  quote?: Quote;
  expireTimerSeconds?: number;
  /** The sender's claimed username (confirm with a username lookup before trusting it). */
  senderUsername?: string;
  /** Files, images and voice notes sent with the message (at most 32); absent when there are none. */
  attachments?: AttachmentPointer[];
  /** Group messages: the group (32-byte id) and the state revision the sender had; absent on 1:1 messages. */
  group?: GroupContext;
  /** The sender's profile key (32 bytes): only with the first message to a peer and after it changes. Secret. */
  profileKey?: Uint8Array;
  /**
   * Only sets the 1:1 conversation's disappearing-message timer to `expireTimerSeconds` (absent: off); such a
   * message has no text, quote, attachment or group.
   */
  expireTimerUpdate?: boolean;
  /** An organization notice: the sender's role certificate and its signature (receivers verify both). Text only. */
  notice?: OrganizationNotice;
};
export type OrganizationNotice = { roleCertificate: Uint8Array; roleCertificateSignature: Uint8Array };
export type GroupContext = { id: Uint8Array; revision: number };
export type GroupRole = 'admin' | 'member';
export type GroupMember = {
  /** Lower-case UUID (16 bytes on the wire). */
  accountId: string;
  role: GroupRole;
  /** Claimed username, display only; absent when the writer knew none. */
  username?: string;
};
/** A group's whole state at one revision (see content.proto GroupUpdate). */
export type GroupUpdate = {
  id: Uint8Array;
  masterKey: Uint8Array;
  revision: number;
  title: string;
  description?: string;
  avatar?: AttachmentPointer;
  members: GroupMember[];
  expireTimerSeconds?: number;
  timestamp: number;
};
/**
 * A member's serialized SenderKeyDistributionMessage for one group; with `notice`, an administrator device's
 * organization-notice sender key instead (then `groupId` is empty: it belongs to no group).
 */
export type SenderKeyDistribution = { groupId: Uint8Array; distributionMessage: Uint8Array; notice?: boolean };
export type ReceiptType = 'delivery' | 'read';
export type ReceiptMessage = { type: ReceiptType; timestamps: number[] };
export type TypingAction = 'started' | 'stopped';
/** A typing indicator; `group` set when it is for a group conversation (sent with the sender key). */
export type TypingMessage = { timestamp: number; action: TypingAction; group?: GroupContext };
export type RetryRequest = { timestamps: number[]; unavailable?: number[] };
/**
 * A reaction (one emoji) to the message of `targetAuthorAccountId` sent at `targetTimestamp`; `remove` takes the
 * sender's reaction away. `timestamp` is the reaction's own send time: a later one replaces an earlier one.
 */
export type ReactionMessage = {
  timestamp: number;
  emoji: string;
  targetAuthorAccountId: string;
  targetTimestamp: number;
  remove?: boolean;
  /** Set when the target is a group message: the group (its revision as the sender had it). */
  group?: GroupContext;
};
/** Delete for everyone of the sender's own message sent at `targetTimestamp`. */
export type DeleteMessage = { timestamp: number; targetTimestamp: number; group?: GroupContext };
/** A new text for the sender's own message sent at `targetTimestamp`. */
export type EditMessage = { timestamp: number; targetTimestamp: number; text: string; group?: GroupContext };

export type Content =
  | { kind: 'data'; data: DataMessage }
  | { kind: 'receipt'; receipt: ReceiptMessage }
  | { kind: 'typing'; typing: TypingMessage }
  | { kind: 'retry'; retry: RetryRequest }
  | { kind: 'null' }
  | { kind: 'reaction'; reaction: ReactionMessage }
  | { kind: 'delete'; delete: DeleteMessage }
  | { kind: 'edit'; edit: EditMessage }
  | { kind: 'group-update'; groupUpdate: GroupUpdate }
  | { kind: 'sender-key'; senderKey: SenderKeyDistribution }
  | { kind: 'profile-key'; profileKey: Uint8Array }
  | { kind: 'sync'; sync: SyncMessage };

/** A conversation read up to a message: a direct one (the peer's account id) or a group (its 32-byte id). */
export type ReadPosition = { peerAccountId?: string; groupId?: Uint8Array; timestamp: number };

/**
 * Between one account's own devices: a message this device `sent` (to `destinationAccountId`, or to the group named
 * in the message), or conversations `read` here.
 */
export type SyncMessage =
  | { type: 'sent'; destinationAccountId?: string; message: DataMessage }
  | { type: 'read'; positions: ReadPosition[] }
  | { type: 'action'; destinationAccountId: string; action: SyncedAction }
  | { type: 'contacts'; contacts: ContactRecord[] }
  | { type: 'conversations'; conversations: ConversationRecord[] }
  | { type: 'profile'; profileKey: Uint8Array }
  | { type: 'group-state'; groupUpdate: GroupUpdate }
  | { type: 'request' };

/** A message action this device sent in a direct conversation (an action transcript). */
export type SyncedAction =
  | { kind: 'reaction'; reaction: ReactionMessage }
  | { kind: 'edit'; edit: EditMessage }
  | { kind: 'delete'; delete: DeleteMessage };

/** A contact as one of the account's devices holds it (content.proto ContactRecord). */
export type ContactRecord = {
  accountId: string;
  username?: string;
  nickname?: string;
  /** 33 bytes, when known. */
  identityKey?: Uint8Array;
  trust: 'trusted-first-use' | 'verified' | 'unverified';
  blocked: boolean;
  profileKey?: Uint8Array;
  updatedAt: number;
};

/** A conversation's state on one of the account's devices (content.proto ConversationRecord). */
export type ConversationRecord = {
  /** Exactly one of the two. */
  peerAccountId?: string;
  groupId?: Uint8Array;
  deleted: boolean;
  request: boolean;
  /** ms since the epoch; absent: not muted. */
  mutedUntil?: number;
  mutedForever: boolean;
  pinnedAt?: number;
  archived: boolean;
  expireTimerSeconds?: number;
  updatedAt: number;
};

/**
 * Where decoded content came from: the server timestamp of its envelope, the reference for the timestamp windows.
 * Without it only the absolute bounds apply (encoding, tests).
 */
export type ContentContext = { serverTimestamp: number };

/** Why content was refused; stable values a client may show or count. */
export const ContentErrorReason = {
  /** Not a valid encoding of content.proto (truncated, wrong wire type, invalid UTF-8, no or two bodies). */
  Malformed: 'malformed',
  /** A number outside its bound (a timestamp outside its window, a timer over a year, an unknown enum value). */
  OutOfRange: 'out_of_range',
  /** A string or list longer than allowed. */
  TooLarge: 'too_large',
  /** A string that does not have its field's format (username, account id). */
  InvalidFormat: 'invalid_format',
  /** A newer content version than this code reads. */
  Unsupported: 'unsupported',
} as const;
export type ContentErrorReason = (typeof ContentErrorReason)[keyof typeof ContentErrorReason];

/** Raised for content that does not follow content.proto or Cove's limits; `reason` says which way. */
export class ContentError extends Error {
  override readonly name = 'ContentError';
  constructor(
    message: string,
    readonly reason: ContentErrorReason = ContentErrorReason.Malformed,
  ) {
    super(message);
  }
}

/**
 * The typed events the messenger reports to its UI (PWA view models, the CLI, tests). Every event is emitted after
 * the state it describes has been committed, so a listener that reads storage in response sees it. This module
 * holds types and a small listener set; it stores nothing.
 */
import type { SealedSenderSetting } from './sealed-sender.js';
import type { ConversationEntry, GroupEntry, MessageEntry, TrustLevel } from './tables.js';

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'stopped' | 'unauthorized' | 'replaced' | 'removed';

export type MessengerEvent =
  | { type: 'message-added'; message: MessageEntry }
  | { type: 'message-updated'; message: MessageEntry }
  | { type: 'message-removed'; conversationId: string; messageId: string }
  | { type: 'conversation-updated'; conversation: ConversationEntry }
  /** A conversation and its history were deleted on this device (requests.ts deleteConversation). */
  | { type: 'conversation-removed'; conversationId: string }
  /** A peer was put on the block list or taken off it. */
  | { type: 'block-list-changed'; accountId: string; blocked: boolean }
  | {
      type: 'receipt';
      conversationId: string;
      /** The peer who sent the receipt. */
      accountId: string;
      receiptType: 'delivery' | 'read';
      timestamps: number[];
    }
  | { type: 'typing'; conversationId: string; accountId: string; action: 'started' | 'stopped' }
  /**
   * The peer (`accountId`) reacted to a message, edited one of theirs or deleted one of theirs for everyone; `message`
   * is the stored result (also reported as `message-updated`). This device's own actions report `message-updated`
   * only.
   */
  | {
      type: 'reaction';
      conversationId: string;
      accountId: string;
      message: MessageEntry;
      emoji: string;
      remove: boolean;
    }
  | { type: 'message-edited'; conversationId: string; accountId: string; message: MessageEntry }
  | { type: 'message-deleted'; conversationId: string; accountId: string; message: MessageEntry }
  | { type: 'identity-changed'; accountId: string; username: string | null; wasVerified: boolean; trust: TrustLevel }
  /**
   * A message decrypted but its content broke the rules (a value out of bounds, a malformed encoding): it was
   * dropped and acknowledged. `reason` is a ContentErrorReason of @cove/protocol, or `malformed` for bad padding.
   */
  | { type: 'message-rejected'; accountId: string; deviceId: number; reason: string }
  /**
   * A device this one did not know joined the account (linked by QR, or logged in by password) and announced itself.
   * Shells tell the user: someone with the password, or a device that linked it, now reads this account.
   */
  | { type: 'own-device-added'; deviceId: number }
  /**
   * A message from this device could not be decrypted: the session with it is rebuilt (at most once per 30 s) and
   * the device is asked to send again.
   */
  | { type: 'session-reset'; accountId: string; deviceId: number }
  /**
   * Too many undecryptable messages from this device this hour (garbage a server can inject): no more session
   * rebuilds, requests or placeholders for it until `until` (ms since the epoch); its undecryptable envelopes are
   * dropped meanwhile.
   */
  | { type: 'session-reset-limited'; accountId: string; deviceId: number; until: number }
  | { type: 'connection'; state: ConnectionState }
  /** A group's state changed (a new revision applied, made here or received); its system lines come as messages. */
  | { type: 'group-updated'; group: GroupEntry }
  /**
   * A group update was ignored: `stale` (not newer than ours, or a duplicate), `forbidden` (its sender may not make
   * that change), `not-member` (a group we are not in), `forged` (another master key under a known id).
   */
  | { type: 'group-update-rejected'; groupId: string; accountId: string; reason: string }
  /** A group message from this device could not be decrypted: the sender is asked to send it again (pairwise). */
  | { type: 'group-message-undecryptable'; accountId: string; deviceId: number; timestamp: number }
  /**
   * Bytes of an attachment moved: `sent` of `total` ciphertext bytes, uploaded (`direction: 'upload'`) or
   * downloaded. Not committed state: progress is reported as it happens.
   */
  | {
      type: 'attachment-progress';
      messageId: string;
      index: number;
      direction: 'upload' | 'download';
      sent: number;
      total: number;
    }
  | { type: 'queue-empty' }
  /**
   * This account's sealed-sender setting changed, here or (read back from the server at upkeep) on another of its
   * devices.
   */
  | { type: 'account-settings-updated'; sealedSender: SealedSenderSetting }
  /** This account's profile (fields or key) changed and is on the server. */
  | { type: 'profile-updated' }
  /** A contact's profile, profile key or nickname changed (read it with `contact()` / `profile()`). */
  | { type: 'contact-updated'; accountId: string }
  | {
      type: 'prekeys-uploaded';
      preKeys: number;
      kyberPreKeys: number;
      signedPreKey: boolean;
      kyberLastResort: boolean;
    };

export type MessengerListener = (event: MessengerEvent) => void;

/** A set of listeners; a throwing listener is isolated from the others and from the core. */
export class EventHub {
  private readonly listeners = new Set<MessengerListener>();

  constructor(private readonly onListenerError: (error: unknown) => void) {}

  subscribe(listener: MessengerListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: MessengerEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.onListenerError(error);
      }
    }
  }
}

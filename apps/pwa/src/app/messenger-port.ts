/**
 * The actions of the messenger core (`@cove/client`) that the app uses, named in one place so the app model
 * depends on behaviour, not on the core's layout; reads go through history-reader.ts. messenger-adapter.ts
 * implements it over the core's facade. Types only.
 */
import type { ConversationEntry, MessengerEvent, TrustLevel } from '@cove/client';

export type SafetyNumber = { digits: string; scannable: string; trust: TrustLevel; changedAt: number | null };

export type LookupResult =
  { ok: true; conversation: ConversationEntry } | { ok: false; error: 'unknown' | 'self' | 'network' };

export type RegistrationError = 'taken' | 'invalid' | 'invite' | 'network' | 'other';

export interface MessengerPort {
  readonly username: string;
  subscribe(listener: (event: MessengerEvent) => void): () => void;
  /** Connects (WebSocket, prekey upkeep, outbox) and keeps reconnecting until `stop`. */
  start(): void;
  stop(): Promise<void>;
  startChat(username: string): Promise<LookupResult>;
  sendText(conversationId: string, text: string): Promise<void>;
  retry(messageId: string): Promise<void>;
  /** Sends a recorded voice note (encrypted, uploaded and sent by the core's outbox). */
  sendVoiceNote(
    conversationId: string,
    voice: { bytes: Uint8Array; contentType: string; durationMs: number; waveform: Uint8Array },
  ): Promise<void>;
  /** The verified plaintext of a message's attachment, downloading it first when it is not on this device. */
  attachmentBytes(messageId: string, index: number): Promise<Uint8Array>;
  markRead(conversationId: string): Promise<void>;
  typing(conversationId: string, started: boolean): Promise<void>;
  safetyNumber(conversationId: string): Promise<SafetyNumber>;
  /**
   * Marks the contact verified if its safety number is still `digitsShown` (what the user compared); `changed` when
   * the number moved on meanwhile (nothing is marked).
   */
  verify(conversationId: string, digitsShown: string): Promise<'verified' | 'changed'>;
  setPushSubscription(subscription: { endpoint: string; keys: { p256dh: string; auth: string } }): Promise<void>;
}

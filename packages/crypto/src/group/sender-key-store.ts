/**
 * libsignal-client's `SenderKeyStore` interface (same method names and argument order: sender address, then the
 * distribution id as a lower-case UUID string) and an in-memory implementation that keeps each record as its
 * serialized bytes, so a caller always reads a fresh copy and a change is visible only after `saveSenderKey`.
 * Contents are `#private` and never print (redaction.ts). No encryption here (group-cipher.ts).
 */
import type { ProtocolAddress } from '../address.js';
import type { RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, describeRedacted, redactedJson } from '../redaction.js';
import { SenderKeyRecord } from './sender-key-record.js';

export abstract class SenderKeyStore {
  abstract saveSenderKey(sender: ProtocolAddress, distributionId: string, record: SenderKeyRecord): Promise<void>;
  abstract getSenderKey(sender: ProtocolAddress, distributionId: string): Promise<SenderKeyRecord | null>;
}

export class InMemorySenderKeyStore extends SenderKeyStore {
  /** "name.device::distribution id" → serialized record; `#private` (records hold chain and signing keys). */
  readonly #keys = new Map<string, Uint8Array>();

  saveSenderKey(sender: ProtocolAddress, distributionId: string, record: SenderKeyRecord): Promise<void> {
    this.#keys.set(`${sender.toString()}::${distributionId.toLowerCase()}`, record.serialize());
    return Promise.resolve();
  }

  getSenderKey(sender: ProtocolAddress, distributionId: string): Promise<SenderKeyRecord | null> {
    const b = this.#keys.get(`${sender.toString()}::${distributionId.toLowerCase()}`);
    return Promise.resolve(b ? SenderKeyRecord.deserialize(b) : null);
  }

  toJSON(): RedactedJson {
    return redactedJson('InMemorySenderKeyStore', { senderKeys: this.#keys.size });
  }

  override toString(): string {
    return describeRedacted('InMemorySenderKeyStore', { senderKeys: this.#keys.size });
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }
}

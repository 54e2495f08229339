/**
 * The server's side of sealed sender v2: `SealedSenderMultiRecipientMessage` parses a sent-form message (0x23 with
 * 17-byte ServiceIds, or the older 0x22 with 16-byte ACI UUIDs) into its recipients — each with device ids and
 * registration ids, or listed as excluded — and cuts the received form (0x22 ‖ C ‖ AT ‖ E ‖ ciphertext) for one
 * recipient. Pure and key-free: the server learns recipients, devices and sizes, never the sender or content.
 * Writing the sent form is `sealedSenderMultiRecipientEncrypt`'s job (sealed-sender-cipher.ts).
 */
import { MAX_DEVICE_ID, MIN_DEVICE_ID } from '../constants.js';
import { ErrorCode, fail } from '../errors.js';
import { equalBytes } from '../primitives/bytes.js';
import { concat } from '../primitives/hash.js';
import { serviceIdString, uuidString } from './sealed-codec.js';
import {
  SEALED_SENDER_V2_RECEIVED_VERSION_BYTE,
  SEALED_SENDER_V2_SENT_SERVICE_ID_VERSION_BYTE,
  SEALED_SENDER_V2_SENT_UUID_VERSION_BYTE,
  V2_AT_LENGTH,
  V2_C_LENGTH,
  V2_EPHEMERAL_LENGTH,
  V2_TAG_LENGTH,
} from './sealed-sender-v2.js';

/** One recipient of a multi-recipient message: parallel arrays, one entry per device. */
export interface Recipient {
  deviceIds: number[];
  registrationIds: number[];
}

/** Device entry: bit 15 = another entry follows, bit 14 unused, bits 0..13 = registration id. */
const HAS_MORE = 0x8000;
const REGISTRATION_ID_MASK = 0x3fff;
/** A zero where a device id would start marks an excluded recipient (0 is never a device id). */
const EXCLUDED_MARKER = 0;

const OP = 'SealedSenderMultiRecipientMessage_Parse';

function invalid(reason: string): never {
  return fail(ErrorCode.InvalidMessage, OP, `invalid sealed sender multi-recipient message: ${reason}`);
}

export class SealedSenderMultiRecipientMessage {
  private readonly recipients = new Map<string, Recipient>();
  private readonly excluded: string[] = [];
  /** C ‖ AT per recipient object handed out, so `messageForRecipient` needs nothing else. */
  private readonly keyMaterial = new WeakMap<Recipient, Uint8Array>();
  private readonly shared: Uint8Array;

  constructor(buffer: Uint8Array) {
    const bytes = buffer.slice();
    const version = bytes[0];
    let idLength: number;
    if (version === SEALED_SENDER_V2_SENT_SERVICE_ID_VERSION_BYTE) idLength = 17;
    else if (version === SEALED_SENDER_V2_SENT_UUID_VERSION_BYTE) idLength = 16;
    else invalid(`unknown version ${String(version)}`);
    let o = 1;
    const need = (n: number): void => {
      if (o + n > bytes.length) invalid('truncated');
    };
    let count = 0;
    for (let shift = 0; ; shift += 7) {
      need(1);
      const b = bytes[o++] as number;
      if (shift > 28) invalid('bad recipient count');
      count += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
    }
    // Each recipient takes at least its id and one byte: a count beyond that is a lie, refused before looping.
    if (count * (idLength + 1) > bytes.length - o) invalid('recipient count exceeds the message');
    const excluded = new Set<string>();
    for (let i = 0; i < count; i++) {
      need(idLength);
      const idBytes = bytes.subarray(o, (o += idLength));
      const id = idLength === 17 ? serviceIdString(idBytes) : uuidString(idBytes);
      if (id === null) invalid('bad service id');
      need(1);
      if (bytes[o] === EXCLUDED_MARKER) {
        o++;
        if (excluded.has(id) || this.recipients.has(id)) invalid('recipient both listed and excluded');
        excluded.add(id);
        continue;
      }
      if (excluded.has(id)) invalid('recipient both listed and excluded');
      // A ServiceId may appear more than once (libsignal's sender lists non-adjacent devices of one recipient
      // separately): its devices merge, and its key material, which depends only on its identity key, must agree.
      const recipient: Recipient = this.recipients.get(id) ?? { deviceIds: [], registrationIds: [] };
      for (let more = true; more;) {
        need(3);
        const device = bytes[o] as number;
        const packed = ((bytes[o + 1] as number) << 8) | (bytes[o + 2] as number);
        o += 3;
        if (device < MIN_DEVICE_ID || device > MAX_DEVICE_ID) invalid('bad device id');
        if (recipient.deviceIds.includes(device)) invalid('device listed twice');
        recipient.deviceIds.push(device);
        recipient.registrationIds.push(packed & REGISTRATION_ID_MASK);
        more = (packed & HAS_MORE) !== 0;
      }
      need(V2_C_LENGTH + V2_AT_LENGTH);
      const material = bytes.slice(o, (o += V2_C_LENGTH + V2_AT_LENGTH));
      const earlier = this.keyMaterial.get(recipient);
      if (earlier && !equalBytes(earlier, material)) invalid('one recipient with different key material');
      this.keyMaterial.set(recipient, material);
      this.recipients.set(id, recipient);
    }
    this.excluded.push(...excluded);
    if (bytes.length - o < V2_EPHEMERAL_LENGTH + V2_TAG_LENGTH) invalid('truncated');
    this.shared = bytes.slice(o);
  }

  /** The recipients, keyed by ServiceId string (an ACI is a plain UUID, a PNI "PNI:" + UUID). */
  recipientsByServiceIdString(): Readonly<Record<string, Recipient>> {
    return Object.fromEntries(this.recipients);
  }

  /** The ServiceIds the sender listed as deliberately excluded (disjoint from the recipients). */
  excludedRecipientServiceIdStrings(): readonly string[] {
    return [...this.excluded];
  }

  /**
   * The received form for `recipient` (an object from `recipientsByServiceIdString()` of this message): the same
   * bytes go to every device of that recipient.
   */
  messageForRecipient(recipient: Recipient): Uint8Array {
    const material = this.keyMaterial.get(recipient);
    if (!material)
      fail(ErrorCode.InvalidArgument, 'SealedSenderMultiRecipientMessage_MessageForRecipient', 'unknown recipient');
    return concat(Uint8Array.of(SEALED_SENDER_V2_RECEIVED_VERSION_BYTE), material, this.shared);
  }
}

/** The received form of a sent-form message with exactly one recipient (what a server with one recipient delivers). */
export function sealedSenderMultiRecipientMessageForSingleRecipient(message: Uint8Array): Uint8Array {
  const parsed = new SealedSenderMultiRecipientMessage(message);
  const recipients = Object.values(parsed.recipientsByServiceIdString());
  if (recipients.length !== 1) invalid(`expected exactly one recipient, found ${recipients.length}`);
  return parsed.messageForRecipient(recipients[0] as Recipient);
}

/**
 * The 1:1 wire messages, byte-identical to libsignal's: `SignalMessage` (version byte ‖ protobuf ‖ 8-byte MAC)
 * and `PreKeySignalMessage` (version byte ‖ protobuf, no MAC), plus `CiphertextMessage` and its type enum.
 * Parsing is strict: wrong versions, wire types, missing required fields or bad keys give a typed
 * SignalClientError, never an exception from deep inside. Encryption and MAC keys come from the caller.
 */
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';

import { ErrorCode, SignalClientError, fail, failInvalidProtobuf } from '../errors.js';
import { PublicKey } from '../keys/curve.js';
import { KYBER1024_TYPE } from '../keys/kem.js';
import { constantTimeEqual } from '../primitives/bytes.js';
import { hmacSha256 } from '../primitives/hash.js';
import { KYBER1024_CIPHERTEXT_LENGTH } from '../primitives/kyber.js';

/** The current 1:1 message version (facts §2: 4 = PQXDH; 3 = pre-Kyber). */
export const CIPHERTEXT_MESSAGE_CURRENT_VERSION = 4;
/** Oldest version still parsed (v3 SignalMessages only make sense against a v3 session, which never exists here). */
export const CIPHERTEXT_MESSAGE_PRE_KYBER_VERSION = 3;
/** The MAC is HMAC-SHA256 truncated to 8 bytes. */
export const MAC_LENGTH = 8;

export enum CiphertextMessageType {
  Whisper = 2,
  PreKey = 3,
  SenderKey = 7,
  Plaintext = 8,
}

export interface CiphertextMessageConvertible {
  asCiphertextMessage(): CiphertextMessage;
}

export class CiphertextMessage {
  private constructor(
    private readonly _type: CiphertextMessageType,
    private readonly bytes: Uint8Array,
  ) {}

  /** @internal */
  static _create(type: CiphertextMessageType, bytes: Uint8Array): CiphertextMessage {
    return new CiphertextMessage(type, bytes);
  }

  static from(message: CiphertextMessageConvertible): CiphertextMessage {
    return message.asCiphertextMessage();
  }

  serialize(): Uint8Array {
    return this.bytes.slice();
  }

  type(): number {
    return this._type;
  }
}

function checkVersionByte(b: number, operation: string): number {
  const v = b >> 4;
  if (v < CIPHERTEXT_MESSAGE_PRE_KYBER_VERSION)
    fail(ErrorCode.LegacyCiphertextVersion, operation, `ciphertext version was too old <${v}>`);
  if (v > CIPHERTEXT_MESSAGE_CURRENT_VERSION)
    fail(ErrorCode.UnrecognizedCiphertextVersion, operation, `ciphertext version was unrecognized <${v}>`);
  return v;
}

function readKey(bytes: Uint8Array, operation: string): PublicKey {
  try {
    return PublicKey.deserialize(bytes);
  } catch (cause) {
    return fail(ErrorCode.InvalidMessage, operation, 'invalid public key in message', { cause });
  }
}

/** Decodes a proto2 message body with a per-field handler; wire-type mismatches for known fields are errors. */
function decodeFields(
  body: Uint8Array,
  operation: string,
  known: Record<number, WireType>,
  onField: (no: number, r: BinaryReader) => void,
): void {
  try {
    const r = new BinaryReader(body);
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      const expected = known[no];
      if (expected === undefined) {
        r.skip(wt, no);
        continue;
      }
      if (expected !== wt) failInvalidProtobuf(operation);
      onField(no, r);
    }
    if (r.pos !== r.len) failInvalidProtobuf(operation);
  } catch (e) {
    if (e instanceof SignalClientError) throw e;
    failInvalidProtobuf(operation, e);
  }
}

/** A field of an outgoing message: a uint32 varint or a length-delimited byte string. */
type OutField = readonly [no: number, value: number | Uint8Array];

function varintLength(v: number): number {
  let n = 1;
  for (let x = v >>> 0; x >= 0x80; x >>>= 7) n++;
  return n;
}

/**
 * Encodes `version byte ‖ protobuf fields ‖ room for `trailer` bytes` in one exactly-sized buffer, field by field
 * in the given order, as protobuf's encoding rules prescribe for these messages (field numbers below 16, so each
 * tag is one byte; varints are uint32). Writing the few fields directly avoids a general-purpose writer's
 * growing buffers, which cost as much as the rest of building a PreKeySignalMessage with its 1.5 KiB Kyber
 * ciphertext.
 */
function encodeMessage(version: number, fields: readonly OutField[], trailer: number): Uint8Array {
  let size = 1 + trailer;
  for (const [, v] of fields) size += 1 + (typeof v === 'number' ? varintLength(v) : varintLength(v.length) + v.length);
  const out = new Uint8Array(size);
  out[0] = version;
  let o = 1;
  const varint = (value: number): void => {
    let x = value >>> 0;
    while (x >= 0x80) {
      out[o++] = (x & 0x7f) | 0x80;
      x >>>= 7;
    }
    out[o++] = x;
  };
  for (const [no, v] of fields) {
    if (typeof v === 'number') {
      out[o++] = (no << 3) | WireType.Varint;
      varint(v);
    } else {
      out[o++] = (no << 3) | WireType.LengthDelimited;
      varint(v.length);
      out.set(v, o);
      o += v.length;
    }
  }
  return out;
}

export interface SignalMessageFields {
  messageVersion: number;
  senderRatchetKey: PublicKey;
  counter: number;
  previousCounter: number;
  ciphertext: Uint8Array;
  pqRatchet: Uint8Array;
  addresses: Uint8Array | null;
}

export class SignalMessage implements CiphertextMessageConvertible {
  private constructor(
    private readonly fields: SignalMessageFields,
    private readonly serialized: Uint8Array,
  ) {}

  /** Builds and MACs a message (libsignal's test-only constructor has the same argument order). */
  static _new(
    messageVersion: number,
    macKey: Uint8Array,
    senderRatchetKey: PublicKey,
    counter: number,
    previousCounter: number,
    ciphertext: Uint8Array,
    senderIdentityKey: PublicKey,
    receiverIdentityKey: PublicKey,
    pqRatchet: Uint8Array,
    addresses: Uint8Array | null = null,
  ): SignalMessage {
    const fields: OutField[] = [
      [1, senderRatchetKey.serializedView()],
      [2, counter],
      [3, previousCounter],
      [4, ciphertext],
    ];
    if (pqRatchet.length > 0) fields.push([5, pqRatchet]);
    if (addresses) fields.push([6, addresses]);
    const version = ((messageVersion & 0xf) << 4) | CIPHERTEXT_MESSAGE_CURRENT_VERSION;
    const out = encodeMessage(version, fields, MAC_LENGTH);
    const n = out.length - MAC_LENGTH;
    const mac = computeMac(senderIdentityKey, receiverIdentityKey, macKey, out.subarray(0, n));
    out.set(mac.subarray(0, MAC_LENGTH), n);
    return new SignalMessage(
      { messageVersion, senderRatchetKey, counter, previousCounter, ciphertext, pqRatchet, addresses },
      out,
    );
  }

  static deserialize(buffer: Uint8Array): SignalMessage {
    const op = 'SignalMessage_Deserialize';
    if (buffer.length < 1 + MAC_LENGTH) fail(ErrorCode.InvalidMessage, op, 'message too short');
    const messageVersion = checkVersionByte(buffer[0] as number, op);
    let ratchetKey: Uint8Array | undefined;
    let counter: number | undefined;
    let previousCounter = 0;
    let ciphertext: Uint8Array | undefined;
    let pqRatchet: Uint8Array = new Uint8Array(0);
    let addresses: Uint8Array | null = null;
    const L = WireType.LengthDelimited;
    decodeFields(
      buffer.subarray(1, buffer.length - MAC_LENGTH),
      op,
      { 1: L, 2: WireType.Varint, 3: WireType.Varint, 4: L, 5: L, 6: L },
      (no, r) => {
        switch (no) {
          case 1:
            ratchetKey = r.bytes();
            break;
          case 2:
            counter = r.uint32();
            break;
          case 3:
            previousCounter = r.uint32();
            break;
          case 4:
            ciphertext = r.bytes();
            break;
          case 5:
            pqRatchet = r.bytes();
            break;
          default:
            addresses = r.bytes();
        }
      },
    );
    if (ratchetKey === undefined || counter === undefined || ciphertext === undefined) failInvalidProtobuf(op);
    const senderRatchetKey = readKey(ratchetKey, op);
    return new SignalMessage(
      { messageVersion, senderRatchetKey, counter, previousCounter, ciphertext, pqRatchet, addresses },
      buffer.slice(),
    );
  }

  /** Checks the truncated MAC in constant time. */
  verifyMac(senderIdentityKey: PublicKey, receiverIdentityKey: PublicKey, macKey: Uint8Array): boolean {
    const n = this.serialized.length - MAC_LENGTH;
    const mac = computeMac(senderIdentityKey, receiverIdentityKey, macKey, this.serialized.subarray(0, n));
    return constantTimeEqual(mac.subarray(0, MAC_LENGTH), this.serialized.subarray(n));
  }

  body(): Uint8Array {
    return this.fields.ciphertext.slice();
  }
  pqRatchet(): Uint8Array {
    return this.fields.pqRatchet.slice();
  }
  counter(): number {
    return this.fields.counter;
  }
  messageVersion(): number {
    return this.fields.messageVersion;
  }
  serialize(): Uint8Array {
    return this.serialized.slice();
  }
  /** @internal */
  get parsed(): Readonly<SignalMessageFields> {
    return this.fields;
  }
  /** @internal No copy. */
  serializedView(): Uint8Array {
    return this.serialized;
  }
  asCiphertextMessage(): CiphertextMessage {
    return CiphertextMessage._create(CiphertextMessageType.Whisper, this.serialized);
  }
}

function computeMac(sender: PublicKey, receiver: PublicKey, macKey: Uint8Array, data: Uint8Array): Uint8Array {
  return hmacSha256(macKey, sender.serializedView(), receiver.serializedView(), data);
}

export interface PreKeySignalMessageFields {
  messageVersion: number;
  registrationId: number;
  preKeyId: number | null;
  signedPreKeyId: number;
  kyberPreKeyId: number;
  kyberCiphertext: Uint8Array;
  baseKey: PublicKey;
  identityKey: PublicKey;
  message: SignalMessage;
}

export class PreKeySignalMessage implements CiphertextMessageConvertible {
  private constructor(
    private readonly fields: PreKeySignalMessageFields,
    private readonly serialized: Uint8Array,
  ) {}

  /** @internal Builds a v4 PreKeySignalMessage around an already MACed SignalMessage. */
  static _create(f: Omit<PreKeySignalMessageFields, 'messageVersion'>): PreKeySignalMessage {
    const fields: OutField[] = [];
    if (f.preKeyId !== null) fields.push([1, f.preKeyId]);
    fields.push(
      [2, f.baseKey.serializedView()],
      [3, f.identityKey.serializedView()],
      [4, f.message.serializedView()],
      [5, f.registrationId],
      [6, f.signedPreKeyId],
      [7, f.kyberPreKeyId],
      [8, f.kyberCiphertext],
    );
    const version = (CIPHERTEXT_MESSAGE_CURRENT_VERSION << 4) | CIPHERTEXT_MESSAGE_CURRENT_VERSION;
    const out = encodeMessage(version, fields, 0);
    return new PreKeySignalMessage({ ...f, messageVersion: CIPHERTEXT_MESSAGE_CURRENT_VERSION }, out);
  }

  static deserialize(buffer: Uint8Array): PreKeySignalMessage {
    const op = 'PreKeySignalMessage_Deserialize';
    if (buffer.length === 0) fail(ErrorCode.InvalidMessage, op, 'message too short');
    const messageVersion = checkVersionByte(buffer[0] as number, op);
    let preKeyId: number | null = null;
    let baseKey: Uint8Array | undefined;
    let identityKey: Uint8Array | undefined;
    let message: Uint8Array | undefined;
    let registrationId = 0;
    let signedPreKeyId: number | undefined;
    let kyberPreKeyId: number | undefined;
    let kyberCiphertext: Uint8Array | undefined;
    const L = WireType.LengthDelimited;
    const V = WireType.Varint;
    decodeFields(buffer.subarray(1), op, { 1: V, 2: L, 3: L, 4: L, 5: V, 6: V, 7: V, 8: L }, (no, r) => {
      switch (no) {
        case 1:
          preKeyId = r.uint32();
          break;
        case 2:
          baseKey = r.bytes();
          break;
        case 3:
          identityKey = r.bytes();
          break;
        case 4:
          message = r.bytes();
          break;
        case 5:
          registrationId = r.uint32();
          break;
        case 6:
          signedPreKeyId = r.uint32();
          break;
        case 7:
          kyberPreKeyId = r.uint32();
          break;
        default:
          kyberCiphertext = r.bytes();
      }
    });
    if (signedPreKeyId === undefined || baseKey === undefined || identityKey === undefined || message === undefined)
      failInvalidProtobuf(op);
    if (messageVersion === CIPHERTEXT_MESSAGE_PRE_KYBER_VERSION) {
      fail(ErrorCode.InvalidMessage, op, 'X3DH no longer supported');
    }
    if (kyberPreKeyId === undefined && kyberCiphertext === undefined)
      fail(ErrorCode.InvalidMessage, op, 'missing pq pre-key ID and ciphertext');
    if (kyberPreKeyId === undefined) fail(ErrorCode.InvalidMessage, op, 'missing pq pre-key ID');
    if (kyberCiphertext === undefined) fail(ErrorCode.InvalidMessage, op, 'missing pq ciphertext');
    if (kyberCiphertext.length !== KYBER1024_CIPHERTEXT_LENGTH + 1 || kyberCiphertext[0] !== KYBER1024_TYPE) {
      fail(ErrorCode.InvalidMessage, op, 'invalid pq ciphertext');
    }
    const inner = SignalMessage.deserialize(message);
    return new PreKeySignalMessage(
      {
        messageVersion,
        registrationId,
        preKeyId,
        signedPreKeyId,
        kyberPreKeyId,
        kyberCiphertext,
        baseKey: readKey(baseKey, op),
        identityKey: readKey(identityKey, op),
        message: inner,
      },
      buffer.slice(),
    );
  }

  preKeyId(): number | null {
    return this.fields.preKeyId;
  }
  registrationId(): number {
    return this.fields.registrationId;
  }
  signedPreKeyId(): number {
    return this.fields.signedPreKeyId;
  }
  version(): number {
    return this.fields.messageVersion;
  }
  serialize(): Uint8Array {
    return this.serialized.slice();
  }
  /** @internal */
  get parsed(): Readonly<PreKeySignalMessageFields> {
    return this.fields;
  }
  asCiphertextMessage(): CiphertextMessage {
    return CiphertextMessage._create(CiphertextMessageType.PreKey, this.serialized);
  }
}

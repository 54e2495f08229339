/**
 * The two sender-key wire messages, byte-identical to libsignal-client 0.103's (facts §3):
 * `SenderKeyDistributionMessage` (`0x33 ‖ protobuf{1 distribution uuid, 2 chain id, 3 iteration, 4 chain key,
 * 5 signing key}`, unsigned: it travels inside a 1:1 session) and `SenderKeyMessage` (`0x33 ‖ protobuf{1
 * distribution uuid, 2 chain id, 3 iteration, 4 ciphertext} ‖ XEdDSA signature(64)` by the sender's signing key).
 * Parsing is strict and fails only with a typed SignalClientError, with libsignal's checks in libsignal's order
 * (length, version nibble, fields). `SenderKeyDistributionMessage.create` starts our own chain when the store
 * has none (a random 31-bit chain id, as libsignal picks). Does not encrypt, decrypt or verify against a state
 * (group-cipher.ts). A distribution message carries a chain key, so it never prints (redaction.ts).
 */
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';

import type { ProtocolAddress } from '../address.js';
import { ErrorCode, fail, failInvalidProtobuf } from '../errors.js';
import { PrivateKey, PublicKey } from '../keys/curve.js';
import type { Rng } from '../primitives/random.js';
import { defaultRng } from '../primitives/random.js';
import type { RedactedJson } from '../redaction.js';
import { INSPECT_CUSTOM, REDACTED, describeRedacted, redactedJson } from '../redaction.js';
import type { CiphertextMessageConvertible } from '../wire/messages.js';
import { CiphertextMessage, CiphertextMessageType } from '../wire/messages.js';
import { SenderKeyRecord } from './sender-key-record.js';
import type { SenderKeyStore } from './sender-key-store.js';

/** The only sender-key message version libsignal sends and accepts (facts §3: byte 0x33). */
export const SENDERKEY_MESSAGE_CURRENT_VERSION = 3;
/** XEdDSA signature length. */
export const SENDER_KEY_SIGNATURE_LENGTH = 64;
/** Chain key and signing key sizes a distribution message must carry exactly. */
const CHAIN_KEY_LENGTH = 32;
const SIGNING_KEY_LENGTH = 33;
/** A distribution id is a UUID: 16 bytes on the wire. */
const DISTRIBUTION_ID_LENGTH = 16;
/** libsignal refuses either message shorter than a version byte plus a signature's length (it checks both alike). */
const MIN_SERIALIZED_LENGTH = 1 + SENDER_KEY_SIGNATURE_LENGTH;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** A distribution id string (libsignal's `Uuid`) as its 16 bytes; anything else is InvalidArgument. */
export function distributionIdToBytes(id: string, operation: string): Uint8Array {
  if (typeof id !== 'string' || !UUID_RE.test(id))
    fail(ErrorCode.InvalidArgument, operation, 'invalid distribution id');
  const hex = id.replace(/-/g, '');
  const out = new Uint8Array(DISTRIBUTION_ID_LENGTH);
  for (let i = 0; i < DISTRIBUTION_ID_LENGTH; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** 16 bytes as the lower-case dashed UUID libsignal-client returns. */
export function distributionIdFromBytes(b: Uint8Array): string {
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function checkU32(v: number, what: string, operation: string): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffff_ffff)
    fail(ErrorCode.InvalidArgument, operation, `${what} out of range`);
}

/** libsignal's length, then version-nibble checks shared by both messages. */
function checkHeader(buf: Uint8Array, operation: string): void {
  if (!(buf instanceof Uint8Array)) fail(ErrorCode.InvalidArgument, operation, 'expected bytes');
  if (buf.length < MIN_SERIALIZED_LENGTH)
    fail(ErrorCode.InvalidMessage, operation, `ciphertext serialized bytes were too short <${buf.length}>`);
  const v = (buf[0] as number) >> 4;
  if (v < SENDERKEY_MESSAGE_CURRENT_VERSION)
    fail(ErrorCode.LegacyCiphertextVersion, operation, `ciphertext version was too old <${v}>`);
  if (v > SENDERKEY_MESSAGE_CURRENT_VERSION)
    fail(ErrorCode.UnrecognizedCiphertextVersion, operation, `ciphertext version was unrecognized <${v}>`);
}

function checkVersionArgument(v: number, operation: string): void {
  if (v !== SENDERKEY_MESSAGE_CURRENT_VERSION)
    fail(ErrorCode.InvalidArgument, operation, `unsupported sender key message version <${v}>`);
}

type Fields = {
  distributionId?: Uint8Array;
  chainId?: number;
  iteration?: number;
  bytes4?: Uint8Array;
  bytes5?: Uint8Array;
};

/**
 * Reads fields 1..`lastField` (later occurrences win, unknown fields skipped, a known field with a wrong wire type
 * refused), as libsignal's protobuf decoder does.
 */
function readFields(body: Uint8Array, lastField: 4 | 5, operation: string): Fields {
  const f: Fields = {};
  try {
    const r = new BinaryReader(body);
    while (r.pos < r.len) {
      const [no, wt] = r.tag();
      const want =
        no === 2 || no === 3 ? WireType.Varint : no >= 1 && no <= lastField ? WireType.LengthDelimited : null;
      if (want === null) {
        r.skip(wt, no);
        continue;
      }
      if (wt !== want) failInvalidProtobuf(operation);
      if (no === 1) f.distributionId = r.bytes();
      else if (no === 2) f.chainId = r.uint32();
      else if (no === 3) f.iteration = r.uint32();
      else if (no === 4) f.bytes4 = r.bytes();
      else f.bytes5 = r.bytes();
    }
  } catch (cause) {
    if (cause instanceof Error && cause.name === 'SignalClientError') throw cause;
    failInvalidProtobuf(operation, cause);
  }
  return f;
}

function writeFields(
  distributionId: Uint8Array,
  chainId: number,
  iteration: number,
  field4: Uint8Array,
  field5: Uint8Array | null,
): Uint8Array {
  const w = new BinaryWriter();
  w.tag(1, WireType.LengthDelimited).bytes(distributionId);
  w.tag(2, WireType.Varint).uint32(chainId);
  w.tag(3, WireType.Varint).uint32(iteration);
  w.tag(4, WireType.LengthDelimited).bytes(field4);
  if (field5) w.tag(5, WireType.LengthDelimited).bytes(field5);
  return w.finish();
}

function withVersion(version: number, body: Uint8Array, trailer: number): Uint8Array {
  const out = new Uint8Array(1 + body.length + trailer);
  out[0] = (version << 4) | SENDERKEY_MESSAGE_CURRENT_VERSION;
  out.set(body, 1);
  return out;
}

/** A sender's chain key and signing public key for one distribution id, sent to each member over 1:1 sessions. */
export class SenderKeyDistributionMessage {
  readonly #distributionId: Uint8Array;
  readonly #chainId: number;
  readonly #iteration: number;
  /** The chain key: whoever holds it reads the sender's group messages from `iteration` on. */
  readonly #chainKey: Uint8Array;
  readonly #signingKey: PublicKey;
  readonly #serialized: Uint8Array;

  private constructor(
    distributionId: Uint8Array,
    chainId: number,
    iteration: number,
    chainKey: Uint8Array,
    signingKey: PublicKey,
    serialized: Uint8Array,
  ) {
    this.#distributionId = distributionId;
    this.#chainId = chainId;
    this.#iteration = iteration;
    this.#chainKey = chainKey;
    this.#signingKey = signingKey;
    this.#serialized = serialized;
  }

  /**
   * Our distribution message for `distributionId`: the current chain of our record, after creating one (random
   * chain id below 2^31, iteration 0, random chain key, new signing key pair) and saving it when the store has
   * none. Send the result to every member over the 1:1 sessions; `groupEncrypt` then uses the same chain.
   */
  static async create(
    sender: ProtocolAddress,
    distributionId: string,
    store: SenderKeyStore,
    rng: Rng = defaultRng,
  ): Promise<SenderKeyDistributionMessage> {
    const op = 'SenderKeyDistributionMessage_Create';
    const dist = distributionIdToBytes(distributionId, op);
    const id = distributionIdFromBytes(dist);
    const loaded = await store.getSenderKey(sender, id);
    let state = loaded?._currentState() ?? null;
    if (state === null) {
      const record = loaded?._copy() ?? SenderKeyRecord._empty();
      const idBytes = rng(4);
      const chainId = new DataView(idBytes.buffer, idBytes.byteOffset, 4).getUint32(0) >>> 1;
      const signing = PrivateKey.generate(rng);
      record._addState(chainId, 0, rng(CHAIN_KEY_LENGTH), signing.getPublicKey(), signing);
      await store.saveSenderKey(sender, id, record);
      state = record._currentState();
      if (state === null) fail(ErrorCode.InvalidSenderKeySession, op, 'no state after creating one');
    }
    const body = writeFields(dist, state.chainId, state.iteration, state.chainKey, state.signingKey.serialize());
    return new SenderKeyDistributionMessage(
      dist,
      state.chainId,
      state.iteration,
      state.chainKey.slice(),
      state.signingKey,
      withVersion(state.messageVersion, body, 0),
    );
  }

  /** libsignal's test-only constructor, same argument order. */
  static _new(
    messageVersion: number,
    distributionId: string,
    chainId: number,
    iteration: number,
    chainKey: Uint8Array,
    pk: PublicKey,
  ): SenderKeyDistributionMessage {
    const op = 'SenderKeyDistributionMessage_New';
    checkVersionArgument(messageVersion, op);
    const dist = distributionIdToBytes(distributionId, op);
    checkU32(chainId, 'chain id', op);
    checkU32(iteration, 'iteration', op);
    if (!(chainKey instanceof Uint8Array) || chainKey.length !== CHAIN_KEY_LENGTH)
      fail(ErrorCode.InvalidArgument, op, 'chain key must be 32 bytes');
    if (!(pk instanceof PublicKey)) fail(ErrorCode.InvalidArgument, op, 'expected a PublicKey');
    const ck = Uint8Array.from(chainKey);
    const body = writeFields(dist, chainId, iteration, ck, pk.serialize());
    return new SenderKeyDistributionMessage(dist, chainId, iteration, ck, pk, withVersion(messageVersion, body, 0));
  }

  static deserialize(buffer: Uint8Array): SenderKeyDistributionMessage {
    const op = 'SenderKeyDistributionMessage_Deserialize';
    checkHeader(buffer, op);
    const f = readFields(buffer.subarray(1), 5, op);
    const { distributionId, chainId, iteration, bytes4: chainKey, bytes5: signing } = f;
    if (
      distributionId?.length !== DISTRIBUTION_ID_LENGTH ||
      chainId === undefined ||
      iteration === undefined ||
      chainKey?.length !== CHAIN_KEY_LENGTH ||
      signing?.length !== SIGNING_KEY_LENGTH
    )
      failInvalidProtobuf(op);
    const signingKey = PublicKey.deserialize(signing);
    return new SenderKeyDistributionMessage(
      distributionId.slice(),
      chainId,
      iteration,
      chainKey.slice(),
      signingKey,
      Uint8Array.from(buffer),
    );
  }

  serialize(): Uint8Array {
    return this.#serialized.slice();
  }

  chainKey(): Uint8Array {
    return this.#chainKey.slice();
  }

  iteration(): number {
    return this.#iteration;
  }

  chainId(): number {
    return this.#chainId;
  }

  distributionId(): string {
    return distributionIdFromBytes(this.#distributionId);
  }

  /** @internal The signing public key (libsignal-client exposes none on this class). */
  _signingKey(): PublicKey {
    return this.#signingKey;
  }

  /** Never the chain key (see redaction.ts). */
  toJSON(): RedactedJson {
    return redactedJson('SenderKeyDistributionMessage', this.#facts());
  }

  toString(): string {
    return describeRedacted('SenderKeyDistributionMessage', this.#facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  #facts(): Record<string, string | number> {
    return {
      distributionId: this.distributionId(),
      chainId: this.#chainId,
      iteration: this.#iteration,
      chainKey: REDACTED,
    };
  }
}

/** One group message: a sender-key ciphertext signed by the sender's signing key. */
export class SenderKeyMessage implements CiphertextMessageConvertible {
  readonly #distributionId: Uint8Array;
  readonly #chainId: number;
  readonly #iteration: number;
  readonly #ciphertext: Uint8Array;
  readonly #serialized: Uint8Array;

  private constructor(
    distributionId: Uint8Array,
    chainId: number,
    iteration: number,
    ciphertext: Uint8Array,
    serialized: Uint8Array,
  ) {
    this.#distributionId = distributionId;
    this.#chainId = chainId;
    this.#iteration = iteration;
    this.#ciphertext = ciphertext;
    this.#serialized = serialized;
  }

  /** Builds and signs a message (libsignal's test-only constructor has the same argument order). */
  static _new(
    messageVersion: number,
    distributionId: string,
    chainId: number,
    iteration: number,
    ciphertext: Uint8Array,
    pk: PrivateKey,
    rng: Rng = defaultRng,
  ): SenderKeyMessage {
    const op = 'SenderKeyMessage_New';
    checkVersionArgument(messageVersion, op);
    if (!(pk instanceof PrivateKey)) fail(ErrorCode.InvalidArgument, op, 'expected a PrivateKey');
    return SenderKeyMessage._build(distributionIdToBytes(distributionId, op), chainId, iteration, ciphertext, pk, rng);
  }

  /** @internal Builds and signs from already-checked parts (the group cipher's path). */
  static _build(
    distributionId: Uint8Array,
    chainId: number,
    iteration: number,
    ciphertext: Uint8Array,
    pk: PrivateKey,
    rng: Rng,
  ): SenderKeyMessage {
    const op = 'SenderKeyMessage_New';
    checkU32(chainId, 'chain id', op);
    checkU32(iteration, 'iteration', op);
    if (!(ciphertext instanceof Uint8Array)) fail(ErrorCode.InvalidArgument, op, 'expected ciphertext bytes');
    const ct = Uint8Array.from(ciphertext);
    const body = writeFields(distributionId, chainId, iteration, ct, null);
    const out = withVersion(SENDERKEY_MESSAGE_CURRENT_VERSION, body, SENDER_KEY_SIGNATURE_LENGTH);
    const signed = out.subarray(0, out.length - SENDER_KEY_SIGNATURE_LENGTH);
    out.set(pk.sign(signed, rng), signed.length);
    return new SenderKeyMessage(distributionId.slice(), chainId, iteration, ct, out);
  }

  static deserialize(buffer: Uint8Array): SenderKeyMessage {
    const op = 'SenderKeyMessage_Deserialize';
    checkHeader(buffer, op);
    const f = readFields(buffer.subarray(1, buffer.length - SENDER_KEY_SIGNATURE_LENGTH), 4, op);
    const { distributionId, chainId, iteration, bytes4: ciphertext } = f;
    if (
      distributionId?.length !== DISTRIBUTION_ID_LENGTH ||
      chainId === undefined ||
      iteration === undefined ||
      ciphertext === undefined
    )
      failInvalidProtobuf(op);
    return new SenderKeyMessage(
      distributionId.slice(),
      chainId,
      iteration,
      ciphertext.slice(),
      Uint8Array.from(buffer),
    );
  }

  serialize(): Uint8Array {
    return this.#serialized.slice();
  }

  ciphertext(): Uint8Array {
    return this.#ciphertext.slice();
  }

  iteration(): number {
    return this.#iteration;
  }

  chainId(): number {
    return this.#chainId;
  }

  distributionId(): string {
    return distributionIdFromBytes(this.#distributionId);
  }

  /** @internal The distribution id's 16 bytes without a copy. */
  _distributionIdBytes(): Uint8Array {
    return this.#distributionId;
  }

  /** Whether the signature over `version ‖ protobuf` verifies under `key`. */
  verifySignature(key: PublicKey): boolean {
    const s = this.#serialized;
    const cut = s.length - SENDER_KEY_SIGNATURE_LENGTH;
    return key.verify(s.subarray(0, cut), s.subarray(cut));
  }

  asCiphertextMessage(): CiphertextMessage {
    return CiphertextMessage._create(CiphertextMessageType.SenderKey, this.serialize());
  }

  toJSON(): RedactedJson {
    return redactedJson('SenderKeyMessage', this.#facts());
  }

  toString(): string {
    return describeRedacted('SenderKeyMessage', this.#facts());
  }

  [INSPECT_CUSTOM](): string {
    return this.toString();
  }

  /** Ids and counts only: logs never carry ciphertext. */
  #facts(): Record<string, string | number> {
    return {
      distributionId: this.distributionId(),
      chainId: this.#chainId,
      iteration: this.#iteration,
      ciphertextLength: this.#ciphertext.length,
    };
  }
}

/**
 * `UnidentifiedSenderMessageContent` (libsignal's "USMC"): what a sealed-sender envelope carries once opened — the
 * inner message's type and bytes, the sender certificate, a content hint and an optional group id — with
 * libsignal's protobuf encoding. The inner message is opaque here (a 1:1 message, a sender-key message or plaintext
 * content, given as type + bytes); this module neither decrypts it nor checks the certificate.
 */
import { ErrorCode, fail } from '../errors.js';
import { CiphertextMessageType } from '../wire/messages.js';
import { SenderCertificate } from './certificates.js';
import { BinaryWriter, WireType, decodeFields, required } from './sealed-codec.js';

/** libsignal-client's content hints: how a receiver may treat a message it cannot decrypt. */
export enum ContentHint {
  Default = 0,
  Resendable = 1,
  Implicit = 2,
}

/** An inner message as type + bytes: a `CiphertextMessage`, or any message another module produces. */
export interface SealableMessage {
  type(): number;
  serialize(): Uint8Array;
}

/** CiphertextMessageType → the proto enum of sealed_sender.proto (PREKEY_MESSAGE=1, MESSAGE=2, SENDERKEY=7, PLAINTEXT=8). */
const PROTO_TYPE: ReadonlyMap<number, number> = new Map([
  [CiphertextMessageType.PreKey, 1],
  [CiphertextMessageType.Whisper, 2],
  [CiphertextMessageType.SenderKey, 7],
  [CiphertextMessageType.Plaintext, 8],
]);
const FROM_PROTO_TYPE: ReadonlyMap<number, number> = new Map([...PROTO_TYPE].map(([k, v]) => [v, k]));

interface UsmcFields {
  readonly type: number;
  readonly sender: SenderCertificate;
  readonly contents: Uint8Array;
  readonly contentHint: number;
  readonly groupId: Uint8Array | null;
}

export class UnidentifiedSenderMessageContent {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly fields: UsmcFields,
  ) {}

  static new(
    message: SealableMessage,
    sender: SenderCertificate,
    contentHint: number,
    groupId: Uint8Array | null,
  ): UnidentifiedSenderMessageContent {
    const op = 'UnidentifiedSenderMessageContent_New';
    const type = message.type();
    const protoType = PROTO_TYPE.get(type);
    if (protoType === undefined) return fail(ErrorCode.InvalidArgument, op, `unsupported message type ${type}`);
    if (!Number.isInteger(contentHint) || contentHint < 0 || contentHint > 0xffff_ffff)
      fail(ErrorCode.InvalidArgument, op, `content hint out of range (${contentHint})`);
    const contents = message.serialize().slice();
    const w = new BinaryWriter()
      .tag(1, WireType.Varint)
      .uint32(protoType)
      .tag(2, WireType.LengthDelimited)
      .bytes(sender.serialize())
      .tag(3, WireType.LengthDelimited)
      .bytes(contents);
    if (contentHint !== (ContentHint.Default as number)) w.tag(4, WireType.Varint).uint32(contentHint);
    const group = groupId && groupId.length > 0 ? groupId.slice() : null;
    if (group) w.tag(5, WireType.LengthDelimited).bytes(group);
    return new UnidentifiedSenderMessageContent(w.finish(), { type, sender, contents, contentHint, groupId: group });
  }

  static deserialize(buffer: Uint8Array): UnidentifiedSenderMessageContent {
    const op = 'UnidentifiedSenderMessageContent_Deserialize';
    const what = 'sealed sender message content';
    let protoType: number | undefined;
    let senderBytes: Uint8Array | undefined;
    let contents: Uint8Array | undefined;
    let contentHint = 0;
    let groupId: Uint8Array | null = null;
    decodeFields(
      buffer,
      op,
      what,
      {
        1: WireType.Varint,
        2: WireType.LengthDelimited,
        3: WireType.LengthDelimited,
        4: WireType.Varint,
        5: WireType.LengthDelimited,
      },
      (no, r) => {
        if (no === 1) protoType = r.uint32();
        else if (no === 2) senderBytes = r.bytes().slice();
        else if (no === 3) contents = r.bytes().slice();
        else if (no === 4) contentHint = r.uint32();
        else {
          const g = r.bytes();
          groupId = g.length > 0 ? g.slice() : null;
        }
      },
    );
    const type = FROM_PROTO_TYPE.get(required(protoType, op, what, 'type'));
    if (type === undefined) return fail(ErrorCode.InvalidMessage, op, `invalid ${what}: unknown message type`);
    const sender = SenderCertificate.deserialize(required(senderBytes, op, what, 'sender certificate'));
    return new UnidentifiedSenderMessageContent(buffer.slice(), {
      type,
      sender,
      contents: required(contents, op, what, 'content'),
      contentHint,
      groupId,
    });
  }

  serialize(): Uint8Array {
    return this.bytes.slice();
  }

  /** The inner message's bytes. */
  contents(): Uint8Array {
    return this.fields.contents.slice();
  }

  /** The inner message's `CiphertextMessageType`. */
  msgType(): number {
    return this.fields.type;
  }

  senderCertificate(): SenderCertificate {
    return this.fields.sender;
  }

  contentHint(): number {
    return this.fields.contentHint;
  }

  groupId(): Uint8Array | null {
    return this.fields.groupId ? this.fields.groupId.slice() : null;
  }
}

/**
 * Sealed sender's certificates, with libsignal-client's names, encodings and validation rules:
 * `ServerCertificate` (a server key and its id, signed by a trust root) and `SenderCertificate` (sender UUID,
 * optional E.164, device, identity key and expiry, signed by a server key and embedding that server's
 * certificate). Validation checks the trust root's signature, that the server key id is not revoked, the server's
 * signature, and the expiry against the caller's time. Does not resolve certificates that only reference a server
 * certificate by id (libsignal's built-in table of Signal's production keys): such bytes are refused on parse.
 */
import { MAX_DEVICE_ID, MIN_DEVICE_ID, REVOKED_SERVER_CERTIFICATE_KEY_IDS } from '../constants.js';
import { ErrorCode, fail } from '../errors.js';
import { type PrivateKey, type PublicKey } from '../keys/curve.js';
import { type Rng, defaultRng } from '../primitives/random.js';
import { BinaryWriter, WireType, decodeFields, readPublicKey, required, uuidString } from './sealed-codec.js';

/** `{1: certificate bytes, 2: signature}`, the envelope both certificate kinds share. */
function decodeSigned(bytes: Uint8Array, op: string, what: string): { certificate: Uint8Array; signature: Uint8Array } {
  let certificate: Uint8Array | undefined;
  let signature: Uint8Array | undefined;
  decodeFields(bytes, op, what, { 1: WireType.LengthDelimited, 2: WireType.LengthDelimited }, (no, r) => {
    if (no === 1) certificate = r.bytes().slice();
    else signature = r.bytes().slice();
  });
  return {
    certificate: required(certificate, op, what, 'certificate'),
    signature: required(signature, op, what, 'signature'),
  };
}

function encodeSigned(certificate: Uint8Array, signature: Uint8Array): Uint8Array {
  return new BinaryWriter()
    .tag(1, WireType.LengthDelimited)
    .bytes(certificate)
    .tag(2, WireType.LengthDelimited)
    .bytes(signature)
    .finish();
}

export class ServerCertificate {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly certificate: Uint8Array,
    private readonly sig: Uint8Array,
    private readonly id: number,
    private readonly serverKey: PublicKey,
  ) {}

  /** A certificate for `serverKey` under `keyId`, signed by the trust root's private key. */
  static new(keyId: number, serverKey: PublicKey, trustRoot: PrivateKey, rng: Rng = defaultRng): ServerCertificate {
    if (!Number.isInteger(keyId) || keyId < 0 || keyId > 0xffff_ffff)
      fail(ErrorCode.InvalidArgument, 'ServerCertificate_New', `key id out of range (${keyId})`);
    const certificate = new BinaryWriter()
      .tag(1, WireType.Varint)
      .uint32(keyId)
      .tag(2, WireType.LengthDelimited)
      .bytes(serverKey.serialize())
      .finish();
    const sig = trustRoot.sign(certificate, rng);
    return new ServerCertificate(encodeSigned(certificate, sig), certificate, sig, keyId, serverKey);
  }

  static deserialize(buffer: Uint8Array): ServerCertificate {
    const op = 'ServerCertificate_Deserialize';
    const what = 'server certificate';
    const { certificate, signature } = decodeSigned(buffer, op, what);
    let id: number | undefined;
    let keyBytes: Uint8Array | undefined;
    decodeFields(certificate, op, what, { 1: WireType.Varint, 2: WireType.LengthDelimited }, (no, r) => {
      if (no === 1) id = r.uint32();
      else keyBytes = r.bytes().slice();
    });
    const key = readPublicKey(required(keyBytes, op, what, 'key'), op, what);
    return new ServerCertificate(buffer.slice(), certificate, signature, required(id, op, what, 'id'), key);
  }

  serialize(): Uint8Array {
    return this.bytes.slice();
  }

  certificateData(): Uint8Array {
    return this.certificate.slice();
  }

  signature(): Uint8Array {
    return this.sig.slice();
  }

  key(): PublicKey {
    return this.serverKey;
  }

  keyId(): number {
    return this.id;
  }

  /** Whether `trustRoot` signed this certificate and its key id is not revoked. */
  validate(trustRoot: PublicKey): boolean {
    if (REVOKED_SERVER_CERTIFICATE_KEY_IDS.includes(this.id)) return false;
    return trustRoot.verify(this.certificate, this.sig);
  }
}

/** What a sender certificate states; `uuid` is the sender's ACI string. */
interface SenderFields {
  readonly uuid: string;
  readonly e164: string | null;
  readonly deviceId: number;
  readonly expiration: number;
  readonly key: PublicKey;
  readonly signer: ServerCertificate;
}

export class SenderCertificate {
  private constructor(
    private readonly bytes: Uint8Array,
    private readonly certificateBytes: Uint8Array,
    private readonly sig: Uint8Array,
    private readonly fields: SenderFields,
  ) {}

  /**
   * A certificate for the sender's identity key, expiring at `expiration` (ms since 1970), signed by the server
   * key `signerKey` whose certificate is `signerCert`. The device id must be in 1..127.
   */
  static new(
    senderUuid: string | { getServiceIdString(): string },
    senderE164: string | null,
    senderDeviceId: number,
    senderKey: PublicKey,
    expiration: number,
    signerCert: ServerCertificate,
    signerKey: PrivateKey,
    rng: Rng = defaultRng,
  ): SenderCertificate {
    const op = 'SenderCertificate_New';
    const uuid = typeof senderUuid === 'string' ? senderUuid : senderUuid.getServiceIdString();
    if (!Number.isInteger(senderDeviceId) || senderDeviceId < MIN_DEVICE_ID || senderDeviceId > MAX_DEVICE_ID)
      fail(ErrorCode.InvalidArgument, op, `device id out of range (${senderDeviceId})`);
    if (!Number.isSafeInteger(expiration) || expiration < 0)
      fail(ErrorCode.InvalidArgument, op, `expiration out of range (${expiration})`);
    const w = new BinaryWriter();
    if (senderE164 !== null) w.tag(1, WireType.LengthDelimited).string(senderE164);
    w.tag(2, WireType.Varint).uint32(senderDeviceId);
    w.tag(3, WireType.Bit64).fixed64(BigInt(expiration));
    w.tag(4, WireType.LengthDelimited).bytes(senderKey.serialize());
    w.tag(5, WireType.LengthDelimited).bytes(signerCert.serialize());
    // The UUID as a string (field 6), as libsignal writes it; the 16-byte form (field 7) is read, not written.
    w.tag(6, WireType.LengthDelimited).string(uuid);
    const certificate = w.finish();
    const sig = signerKey.sign(certificate, rng);
    return new SenderCertificate(encodeSigned(certificate, sig), certificate, sig, {
      uuid,
      e164: senderE164,
      deviceId: senderDeviceId,
      expiration,
      key: senderKey,
      signer: signerCert,
    });
  }

  static deserialize(buffer: Uint8Array): SenderCertificate {
    const op = 'SenderCertificate_Deserialize';
    const what = 'sender certificate';
    const { certificate, signature } = decodeSigned(buffer, op, what);
    let e164: string | null = null;
    let uuid: string | undefined;
    let deviceId: number | undefined;
    let expiration: bigint | undefined;
    let keyBytes: Uint8Array | undefined;
    let signerBytes: Uint8Array | undefined;
    let signerId: number | undefined;
    decodeFields(
      certificate,
      op,
      what,
      {
        1: WireType.LengthDelimited,
        2: WireType.Varint,
        3: WireType.Bit64,
        4: WireType.LengthDelimited,
        5: WireType.LengthDelimited,
        6: WireType.LengthDelimited,
        7: WireType.LengthDelimited,
        8: WireType.Varint,
      },
      (no, r) => {
        switch (no) {
          case 1:
            e164 = r.string();
            break;
          case 2:
            deviceId = r.uint32();
            break;
          case 3:
            expiration = BigInt(r.fixed64());
            break;
          case 4:
            keyBytes = r.bytes().slice();
            break;
          case 5:
            signerBytes = r.bytes().slice();
            signerId = undefined;
            break;
          case 6:
            uuid = r.string();
            break;
          case 7: {
            const b = r.bytes();
            if (b.length !== 16) fail(ErrorCode.InvalidMessage, op, `invalid ${what}: bad sender UUID`);
            uuid = uuidString(b);
            break;
          }
          default:
            signerId = r.uint32();
            signerBytes = undefined;
        }
      },
    );
    const device = required(deviceId, op, what, 'sender device');
    if (device < MIN_DEVICE_ID || device > MAX_DEVICE_ID)
      fail(ErrorCode.InvalidMessage, op, `invalid ${what}: device id out of range`);
    const expires = required(expiration, op, what, 'expiration');
    if (expires > BigInt(Number.MAX_SAFE_INTEGER))
      fail(ErrorCode.InvalidMessage, op, `invalid ${what}: expiration out of range`);
    if (signerBytes === undefined) {
      if (signerId !== undefined)
        fail(ErrorCode.InvalidMessage, op, `invalid ${what}: unknown server certificate id ${signerId}`);
      fail(ErrorCode.InvalidMessage, op, `invalid ${what}: missing signer`);
    }
    return new SenderCertificate(buffer.slice(), certificate, signature, {
      uuid: required(uuid, op, what, 'sender UUID'),
      e164,
      deviceId: device,
      expiration: Number(expires),
      key: readPublicKey(required(keyBytes, op, what, 'identity key'), op, what),
      signer: ServerCertificate.deserialize(signerBytes),
    });
  }

  serialize(): Uint8Array {
    return this.bytes.slice();
  }

  certificate(): Uint8Array {
    return this.certificateBytes.slice();
  }

  signature(): Uint8Array {
    return this.sig.slice();
  }

  expiration(): number {
    return this.fields.expiration;
  }

  key(): PublicKey {
    return this.fields.key;
  }

  senderE164(): string | null {
    return this.fields.e164;
  }

  senderUuid(): string {
    return this.fields.uuid;
  }

  senderDeviceId(): number {
    return this.fields.deviceId;
  }

  serverCertificate(): ServerCertificate {
    return this.fields.signer;
  }

  /** Valid when `trustRoot` signed the (unrevoked) server certificate, the server signed this one, and it has not expired at `time`. */
  validate(trustRoot: PublicKey, time: number): boolean {
    return this.validateWithTrustRoots([trustRoot], time);
  }

  /** As `validate`, with any one of several trust roots; every root is checked before answering. */
  validateWithTrustRoots(trustRoots: readonly PublicKey[], time: number): boolean {
    let rooted = false;
    for (const root of trustRoots) rooted = this.fields.signer.validate(root) || rooted;
    if (!rooted) return false;
    if (!this.fields.signer.key().verify(this.certificateBytes, this.sig)) return false;
    return this.fields.expiration >= time;
  }
}

/**
 * Organization role certificates: "account A holds role R from time I until time E", signed with XEdDSA by the
 * organization key (a Curve25519 key pair the owner's devices hold, like an identity key). Clients believe a role
 * only when its certificate verifies under the organization key they pinned, names the account asking, and is
 * within its validity window; the server stores and serves the certificates but cannot make one. Also the key's
 * fingerprint for display. Pure: no storage, no network, no clock (the caller passes the time).
 *
 * Layout of the signed body (34 bytes): version (1) ‖ role (1) ‖ account id (16 UUID bytes) ‖ issued at (8, ms,
 * big-endian) ‖ expires at (8, ms, big-endian). The signature covers a domain label followed by the body, so a
 * certificate signature can never be replayed as any other XEdDSA signature of the same key.
 */
import { ErrorCode, fail } from '../errors.js';
import { sha512, utf8 } from '../primitives/hash.js';
import type { Rng } from '../primitives/random.js';
import { defaultRng } from '../primitives/random.js';
import { PrivateKey } from '../keys/curve.js';
import type { PublicKey } from '../keys/curve.js';

/** Version byte of the body layout; any other is refused (a newer client's certificate is not guessed at). */
export const ROLE_CERTIFICATE_VERSION = 1;
/** Size of the signed body: see the layout above. */
export const ROLE_CERTIFICATE_BYTES = 34;
/** XEdDSA signatures are 64 bytes. */
export const ROLE_CERTIFICATE_SIGNATURE_BYTES = 64;
/** Separates certificate signatures from every other use of the organization key. */
const DOMAIN = utf8('cove-organization-role-certificate-v1');

export type OrganizationRole = 'owner' | 'admin' | 'member';
const ROLE_CODES: Record<OrganizationRole, number> = { member: 0, admin: 1, owner: 2 };
const ROLES: OrganizationRole[] = ['member', 'admin', 'owner'];

export type RoleCertificate = {
  /** Lower-case UUID of the account. */
  accountId: string;
  role: OrganizationRole;
  issuedAt: number;
  expiresAt: number;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const uuidBytes = (id: string): Uint8Array => {
  const lower = id.toLowerCase();
  if (!UUID.test(lower)) fail(ErrorCode.InvalidArgument, 'RoleCertificate', 'account id is not a UUID');
  const hex = lower.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
};

const uuidString = (bytes: Uint8Array): string => {
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};

const checkTime = (value: number, what: string): void => {
  if (!Number.isSafeInteger(value) || value < 0)
    fail(ErrorCode.InvalidArgument, 'RoleCertificate', `${what} is not a time`);
};

/** The 34-byte body of a certificate. */
export const encodeRoleCertificate = (certificate: RoleCertificate): Uint8Array => {
  checkTime(certificate.issuedAt, 'issuedAt');
  checkTime(certificate.expiresAt, 'expiresAt');
  if (certificate.expiresAt <= certificate.issuedAt)
    fail(ErrorCode.InvalidArgument, 'RoleCertificate', 'expiresAt must follow issuedAt');
  const code = ROLE_CODES[certificate.role];
  if (code === undefined) fail(ErrorCode.InvalidArgument, 'RoleCertificate', 'unknown role');
  const out = new Uint8Array(ROLE_CERTIFICATE_BYTES);
  const view = new DataView(out.buffer);
  out[0] = ROLE_CERTIFICATE_VERSION;
  out[1] = code;
  out.set(uuidBytes(certificate.accountId), 2);
  view.setBigUint64(18, BigInt(certificate.issuedAt));
  view.setBigUint64(26, BigInt(certificate.expiresAt));
  return out;
};

/** Parses a body; null for anything that is not exactly a version-1 body with a known role and sane times. */
export const decodeRoleCertificate = (body: Uint8Array): RoleCertificate | null => {
  if (body.length !== ROLE_CERTIFICATE_BYTES || body[0] !== ROLE_CERTIFICATE_VERSION) return null;
  const role = ROLES[body[1] ?? 255];
  if (!role) return null;
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const issued = view.getBigUint64(18);
  const expires = view.getBigUint64(26);
  if (issued > BigInt(Number.MAX_SAFE_INTEGER) || expires > BigInt(Number.MAX_SAFE_INTEGER) || expires <= issued)
    return null;
  return { accountId: uuidString(body.subarray(2, 18)), role, issuedAt: Number(issued), expiresAt: Number(expires) };
};

const signedMessage = (body: Uint8Array): Uint8Array => {
  const message = new Uint8Array(DOMAIN.length + body.length);
  message.set(DOMAIN);
  message.set(body, DOMAIN.length);
  return message;
};

/** Signs a certificate with the organization's private key: its body and the 64-byte signature. */
export const signRoleCertificate = (
  organizationKey: PrivateKey,
  certificate: RoleCertificate,
  rng: Rng = defaultRng,
): { body: Uint8Array; signature: Uint8Array } => {
  const body = encodeRoleCertificate(certificate);
  return { body, signature: organizationKey.sign(signedMessage(body), rng) };
};

/**
 * The certificate when `signature` is the organization key's over `body` (and the body parses); null otherwise. It
 * does not check the account or the time: see {@link validRole}.
 */
export const verifyRoleCertificate = (
  organizationKey: PublicKey,
  body: Uint8Array,
  signature: Uint8Array,
): RoleCertificate | null => {
  if (signature.length !== ROLE_CERTIFICATE_SIGNATURE_BYTES) return null;
  const certificate = decodeRoleCertificate(body);
  if (!certificate) return null;
  return organizationKey.verify(signedMessage(body), signature) ? certificate : null;
};

/**
 * The role `accountId` holds at `now` by this certificate: verified under the organization key, naming this account,
 * issued no later than now and not expired. Null when any of that fails.
 */
export const validRole = (
  organizationKey: PublicKey,
  accountId: string,
  body: Uint8Array,
  signature: Uint8Array,
  now: number,
): OrganizationRole | null => {
  const certificate = verifyRoleCertificate(organizationKey, body, signature);
  if (!certificate || certificate.accountId !== accountId.toLowerCase()) return null;
  if (now < certificate.issuedAt || now >= certificate.expiresAt) return null;
  return certificate.role;
};

/** A new organization key pair (the owner's client makes it once). */
export const generateOrganizationKey = (rng: Rng = defaultRng): PrivateKey => PrivateKey.generate(rng);

/**
 * The organization key's fingerprint for people to compare: SHA-512 of the serialized public key, read as eight
 * 5-byte chunks, each reduced mod 100000 to five digits (40 digits, ~132 bits), like one half of a safety number.
 */
export const organizationKeyFingerprint = (publicKey: PublicKey): string => {
  const digest = sha512(publicKey.serialize());
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) {
    let value = 0;
    for (let j = 0; j < 5; j++) value = value * 256 + (digest[i * 5 + j] ?? 0);
    groups.push(String(value % 100000).padStart(5, '0'));
  }
  return groups.join(' ');
};

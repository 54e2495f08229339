/**
 * X25519 (RFC 7748): key generation with clamping, public-key derivation and Diffie-Hellman, through one
 * implementation chosen once at start (`useX25519Backend`): libsodium's WebAssembly by default, or one the runtime
 * supplies (e.g. native code; this package never imports it, it stays pure). Keys hand the implementation opaque
 * handles it derives once per key (an imported native key object), so a key used in several agreements is prepared
 * once. An all-zero shared secret (a low-order peer key) is refused, as libsignal refuses it. A backend is checked
 * against libsodium (RFC 7748 vector, a random agreement, low-order refusal) before it is used.
 */
import type { Rng } from './random.js';
import { defaultRng } from './random.js';
import { x25519, x25519Base } from './sodium-direct.js';

/**
 * One X25519 implementation. Handles are whatever the implementation wants to reuse between calls for one key;
 * they are derived from the raw 32 bytes and never leave the key object that cached them.
 */
export interface X25519Backend {
  /** A short name for reports (e.g. "libsodium", "node:crypto"). */
  readonly name: string;
  /** Prepares a clamped private scalar for later calls. */
  privateHandle(scalar: Uint8Array): unknown;
  /** Prepares a 32-byte public u-coordinate for later calls. */
  publicHandle(u: Uint8Array): unknown;
  /** The public key (32 bytes) of a private handle. */
  publicFromPrivate(privateHandle: unknown): Uint8Array;
  /** DH(private, public): the 32-byte shared secret, or null when the implementation refuses a low-order key. */
  agree(privateHandle: unknown, publicHandle: unknown): Uint8Array | null;
}

/**
 * The default: libsodium's `crypto_scalarmult` called directly (sodium-direct.ts), without the wrappers'
 * per-call allocations; handles are the raw bytes.
 */
export const libsodiumX25519: X25519Backend = {
  name: 'libsodium',
  privateHandle: (scalar) => scalar,
  publicHandle: (u) => u,
  publicFromPrivate: (scalar) => x25519Base(scalar as Uint8Array),
  agree: (scalar, u) => x25519(scalar as Uint8Array, u as Uint8Array),
};

let backend: X25519Backend = libsodiumX25519;

/** The implementation in use. */
export function x25519Backend(): X25519Backend {
  return backend;
}

/** RFC 7748 §6.1: Alice's private key, Bob's public key and their shared secret. */
const RFC7748_ALICE_PRIVATE = '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a';
const RFC7748_BOB_PUBLIC = 'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f';
const RFC7748_SHARED = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';

const fromHex = (h: string): Uint8Array => Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16));
const same = (a: Uint8Array | null, b: Uint8Array | null): boolean =>
  a !== null && b !== null && a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Chooses the X25519 implementation for the whole process; call once at start, after `ready()`, before any key
 * is used (keys prepared under another implementation prepare themselves again). `null` restores libsodium. The
 * candidate must agree with libsodium on the RFC 7748 vector and a random agreement, derive the same public key and
 * refuse a low-order public key; otherwise this throws and libsodium stays in use.
 */
export function useX25519Backend(candidate: X25519Backend | null, rng: Rng = defaultRng): void {
  if (!candidate) {
    backend = libsodiumX25519;
    return;
  }
  const check = (what: string, ok: boolean): void => {
    if (!ok) throw new Error(`@cove/crypto: the X25519 implementation "${candidate.name}" fails ${what}`);
  };
  const alice = clampScalar(fromHex(RFC7748_ALICE_PRIVATE));
  check(
    'the RFC 7748 vector',
    same(
      candidate.agree(candidate.privateHandle(alice), candidate.publicHandle(fromHex(RFC7748_BOB_PUBLIC))),
      fromHex(RFC7748_SHARED),
    ),
  );
  const a = x25519GeneratePrivate(rng);
  const b = x25519GeneratePrivate(rng);
  const aPublic = candidate.publicFromPrivate(candidate.privateHandle(a));
  check('public-key derivation', same(aPublic, libsodiumX25519.publicFromPrivate(a)));
  const bPublic = libsodiumX25519.publicFromPrivate(b);
  check(
    'a random agreement',
    same(
      candidate.agree(candidate.privateHandle(a), candidate.publicHandle(bPublic)),
      libsodiumX25519.agree(b, aPublic),
    ),
  );
  let lowOrder: Uint8Array | null;
  try {
    lowOrder = candidate.agree(candidate.privateHandle(a), candidate.publicHandle(new Uint8Array(32)));
  } catch {
    lowOrder = null;
  }
  check('to refuse a low-order public key', lowOrder === null || lowOrder.every((v) => v === 0));
  backend = candidate;
}

export function clampScalar(k: Uint8Array): Uint8Array {
  const c = Uint8Array.from(k);
  c[0] = (c[0] as number) & 248;
  c[31] = ((c[31] as number) & 127) | 64;
  return c;
}

export function x25519GeneratePrivate(rng: Rng = defaultRng): Uint8Array {
  return clampScalar(rng(32));
}

/**
 * A key's handle under the implementation in use, from its cache slot: prepared once per key and implementation.
 * The slot is owned by the key object (see keys/curve.ts).
 */
export type HandleSlot = { backend: X25519Backend; handle: unknown } | null;

export function privateHandle(slot: HandleSlot, scalar: Uint8Array): { backend: X25519Backend; handle: unknown } {
  if (slot?.backend === backend) return slot;
  return { backend, handle: backend.privateHandle(scalar) };
}

export function publicHandle(slot: HandleSlot, u: Uint8Array): { backend: X25519Backend; handle: unknown } {
  if (slot?.backend === backend) return slot;
  return { backend, handle: backend.publicHandle(u) };
}

export function x25519PublicFromPrivate(priv: Uint8Array): Uint8Array {
  return backend.publicFromPrivate(backend.privateHandle(priv));
}

/** DH(priv, pub); returns null when the result is all zeros (low-order point). */
export function x25519Agree(priv: Uint8Array, pub: Uint8Array): Uint8Array | null {
  return agreeHandles(backend.privateHandle(priv), backend.publicHandle(pub));
}

/** DH over prepared handles (of the implementation in use); null when all zeros or refused. */
export function agreeHandles(privateHandle: unknown, publicHandle: unknown): Uint8Array | null {
  let s: Uint8Array | null;
  try {
    s = backend.agree(privateHandle, publicHandle);
  } catch {
    return null;
  }
  if (!s || s.every((v) => v === 0)) return null;
  return s;
}

/**
 * X25519 for @cove/crypto through Node's own crypto (OpenSSL, native code) instead of libsodium's WebAssembly:
 * keys become `KeyObject`s once and are reused for every agreement they take part in. Keys are imported as JWK,
 * whose import costs about 60 µs of CPU against about 600 µs for PKCS #8 DER (OpenSSL 3's decoder) on Node 20.
 * Node's JWK parser requires the `x` member of a private key but derives the public key from `d` (the value passed
 * is not used); `useX25519Backend` checks the derived public key and agreements against libsodium before this
 * implementation is used, so a runtime that behaved otherwise would be refused, not trusted. The Node platform
 * installs it once at start (`chooseNodeX25519` in node-platform.ts): session setup and alternating messages are
 * faster with it than with libsodium's WebAssembly (bench/RESULTS.md, issue 17 goal 4). Node only; the browser keeps
 * libsodium (WebCrypto's X25519 is asynchronous, and @cove/crypto is synchronous).
 */
import { createPrivateKey, createPublicKey, diffieHellman, type KeyObject } from 'node:crypto';

import { useX25519Backend, type X25519Backend } from '@cove/crypto';

/** A syntactically valid placeholder for the private JWK's `x` (32 zero bytes, base64url); Node derives it. */
const PLACEHOLDER_X = 'A'.repeat(43);

const base64url = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');

export const nodeX25519: X25519Backend = {
  name: 'node:crypto',
  privateHandle: (scalar) =>
    createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: base64url(scalar), x: PLACEHOLDER_X }, format: 'jwk' }),
  publicHandle: (u) => createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: base64url(u) }, format: 'jwk' }),
  publicFromPrivate: (key) => {
    const { x } = (key as KeyObject).export({ format: 'jwk' });
    return new Uint8Array(Buffer.from(x ?? '', 'base64url'));
  },
  agree: (privateKey, publicKey) => {
    try {
      return new Uint8Array(diffieHellman({ privateKey: privateKey as KeyObject, publicKey: publicKey as KeyObject }));
    } catch {
      // OpenSSL refuses an all-zero result (a low-order public key): the same refusal as libsodium's.
      return null;
    }
  },
};

/**
 * Makes @cove/crypto use Node's native X25519 for the rest of the process (after `ready()`); returns the name of
 * the implementation in use: "node:crypto", or "libsodium" when this runtime's failed the check.
 */
export function useNodeX25519(): string {
  try {
    useX25519Backend(nodeX25519);
    return nodeX25519.name;
  } catch {
    useX25519Backend(null);
    return 'libsodium';
  }
}

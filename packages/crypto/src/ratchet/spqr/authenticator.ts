/**
 * The braid's authenticator: a root key and a MAC key, updated with every epoch secret, that MAC the ML-KEM
 * header (send_ek side) and the ciphertext (send_ct side) so neither can be swapped in transit.
 *
 * - new(authKey): root = mac = 0³², then update(1, authKey).
 * - update(ep, k): HKDF(0³², root ‖ k, "Signal_PQCKA_V1_MLKEM768:Authenticator Update" ‖ be64(ep), 64) → root ‖ mac.
 * - header MAC: HMAC-SHA256(mac, "Signal_PQCKA_V1_MLKEM768:ekheader" ‖ be64(ep) ‖ header).
 * - ciphertext MAC: HMAC-SHA256(mac, "Signal_PQCKA_V1_MLKEM768:ciphertext" ‖ be64(ep) ‖ ct1 ‖ ct2).
 *
 * Values are immutable; `update` returns a new authenticator.
 */
import { constantTimeEqual } from '../../primitives/bytes.js';
import { ZERO_SALT, be64, concatBytes, hkdfSha256, hmacSha256, ascii } from './kdf.js';

export const MAC_SIZE = 32;

const UPDATE_INFO = ascii('Signal_PQCKA_V1_MLKEM768:Authenticator Update');
const HEADER_LABEL = ascii('Signal_PQCKA_V1_MLKEM768:ekheader');
const CIPHERTEXT_LABEL = ascii('Signal_PQCKA_V1_MLKEM768:ciphertext');

export interface Authenticator {
  readonly root: Uint8Array;
  readonly mac: Uint8Array;
}

export function authUpdate(auth: Authenticator, epoch: number, key: Uint8Array): Authenticator {
  const out = hkdfSha256(ZERO_SALT, concatBytes(auth.root, key), concatBytes(UPDATE_INFO, be64(epoch)), 64);
  return { root: out.slice(0, 32), mac: out.slice(32, 64) };
}

export function authNew(authKey: Uint8Array): Authenticator {
  return authUpdate({ root: new Uint8Array(32), mac: new Uint8Array(32) }, 1, authKey);
}

export function macHeader(auth: Authenticator, epoch: number, header: Uint8Array): Uint8Array {
  return hmacSha256(auth.mac, concatBytes(HEADER_LABEL, be64(epoch), header));
}

export function macCiphertext(auth: Authenticator, epoch: number, ct: Uint8Array): Uint8Array {
  return hmacSha256(auth.mac, concatBytes(CIPHERTEXT_LABEL, be64(epoch), ct));
}

export function verifyHeader(auth: Authenticator, epoch: number, header: Uint8Array, mac: Uint8Array): boolean {
  return constantTimeEqual(macHeader(auth, epoch, header), mac);
}

export function verifyCiphertext(auth: Authenticator, epoch: number, ct: Uint8Array, mac: Uint8Array): boolean {
  return constantTimeEqual(macCiphertext(auth, epoch, ct), mac);
}

/**
 * The package's two byte-string comparisons, one vocabulary for every caller: `equalBytes` for public data (keys,
 * addresses, hashes of public values), which may return at the first difference, and `constantTimeEqual` for
 * anything an attacker could learn from timing (MACs, secrets, values derived from secret keys), whose running
 * time depends only on the lengths. Lengths are never secret. No other byte helpers live here.
 */

/** Equality of two public byte strings; returns early, so never for MACs or secrets (see constantTimeEqual). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality in time independent of the contents (only of the lengths): for MACs and secret values. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

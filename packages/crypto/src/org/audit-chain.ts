/**
 * The organization audit log's hash chain: each entry's hash is SHA-256 over the previous entry's hash and the
 * entry's own fields (time, event, actor, target) in one fixed encoding, so editing, removing or reordering any entry
 * breaks every hash after it. The server computes it when appending; admins' clients recompute it to verify. Pure.
 * It cannot detect a log cut short at its end on its own: a verifier compares the head with one it saw before.
 */
import { sha256, utf8 } from '../primitives/hash.js';

/** The first entry's predecessor: 32 zero bytes. */
export const AUDIT_GENESIS_HASH = new Uint8Array(32);

export type AuditFields = { at: number; event: string; actor: string | null; target: string | null };

/** SHA-256(prevHash ‖ UTF-8 of the JSON array [at, event, actor, target]). */
export const auditEntryHash = (prevHash: Uint8Array, entry: AuditFields): Uint8Array => {
  const fields = utf8(JSON.stringify([entry.at, entry.event, entry.actor, entry.target]));
  const input = new Uint8Array(prevHash.length + fields.length);
  input.set(prevHash);
  input.set(fields, prevHash.length);
  return sha256(input);
};

export type AuditChainEntry = AuditFields & { seq: number; prevHash: Uint8Array; hash: Uint8Array };

/**
 * Checks a run of entries, oldest first, starting after `previous` (the genesis hash for the whole log): each links to
 * the one before and its hash is right. Returns the first broken entry's seq, or null when the run is intact.
 */
export const verifyAuditChain = (
  entries: readonly AuditChainEntry[],
  previous: Uint8Array = AUDIT_GENESIS_HASH,
): { brokenAt: number | null; head: Uint8Array } => {
  let head = previous;
  for (const entry of entries) {
    const expected = auditEntryHash(head, entry);
    if (!sameBytes(entry.prevHash, head) || !sameBytes(entry.hash, expected)) return { brokenAt: entry.seq, head };
    head = entry.hash;
  }
  return { brokenAt: null, head };
};

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * Role certificates and the audit chain: a certificate verifies only under the organization key that signed it,
 * for the account it names, within its validity window; every flipped byte of body or signature, another key, another
 * account, a truncated or version-bumped body, an unknown role and inverted times are refused. The audit chain
 * verifies intact runs and points at the first entry that was edited, removed or reordered.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';

import {
  AUDIT_GENESIS_HASH,
  auditEntryHash,
  decodeRoleCertificate,
  encodeRoleCertificate,
  generateOrganizationKey,
  organizationKeyFingerprint,
  ready,
  signRoleCertificate,
  validRole,
  verifyAuditChain,
  verifyRoleCertificate,
  type AuditChainEntry,
} from '../../src/index.js';

const ALICE = '2f1c7b8e-9d3a-4c1e-8f5a-0b6d7e8f9a0b';
const BOB = '7a0e3c1d-5b6f-4a2e-9c8d-1e2f3a4b5c6d';
const NOW = 1_800_000_000_000;

describe('role certificates', () => {
  beforeAll(() => ready());

  it('should round-trip the 34-byte body', () => {
    const certificate = { accountId: ALICE, role: 'admin' as const, issuedAt: NOW, expiresAt: NOW + 1000 };
    const body = encodeRoleCertificate(certificate);
    expect(body.length).toBe(34);
    expect(decodeRoleCertificate(body)).toEqual(certificate);
    expect(decodeRoleCertificate(body.subarray(0, 33))).toBeNull();
    expect(decodeRoleCertificate(Uint8Array.from([2, ...body.subarray(1)]))).toBeNull();
    expect(decodeRoleCertificate(Uint8Array.from([1, 9, ...body.subarray(2)]))).toBeNull();
    expect(() => encodeRoleCertificate({ ...certificate, expiresAt: NOW })).toThrow();
    expect(() => encodeRoleCertificate({ ...certificate, accountId: 'not-a-uuid' })).toThrow();
  });

  it('should prove a role only under its key, for its account, while valid, and refuse every tampered byte', () => {
    const key = generateOrganizationKey();
    const other = generateOrganizationKey();
    const { body, signature } = signRoleCertificate(key, {
      accountId: ALICE,
      role: 'admin',
      issuedAt: NOW,
      expiresAt: NOW + 3600_000,
    });
    const pub = key.getPublicKey();
    expect(validRole(pub, ALICE, body, signature, NOW + 1)).toBe('admin');
    expect(validRole(pub, ALICE.toUpperCase(), body, signature, NOW + 1)).toBe('admin');
    expect(validRole(other.getPublicKey(), ALICE, body, signature, NOW + 1)).toBeNull();
    expect(validRole(pub, BOB, body, signature, NOW + 1)).toBeNull();
    expect(validRole(pub, ALICE, body, signature, NOW - 1)).toBeNull();
    expect(validRole(pub, ALICE, body, signature, NOW + 3600_000)).toBeNull();
    for (let i = 0; i < body.length; i++) {
      const flipped = body.slice();
      flipped[i] = (flipped[i] ?? 0) ^ 1;
      expect(verifyRoleCertificate(pub, flipped, signature)).toBeNull();
    }
    for (let i = 0; i < signature.length; i += 7) {
      const flipped = signature.slice();
      flipped[i] = (flipped[i] ?? 0) ^ 0x80;
      expect(verifyRoleCertificate(pub, body, flipped)).toBeNull();
    }
    expect(verifyRoleCertificate(pub, body, signature.subarray(0, 63))).toBeNull();
    // A signature by the same key over the bare body (no domain label) is not a certificate signature.
    expect(verifyRoleCertificate(pub, body, key.sign(body))).toBeNull();
  });

  it('should show a stable 40-digit fingerprint that differs between keys', () => {
    const key = generateOrganizationKey();
    const fingerprint = organizationKeyFingerprint(key.getPublicKey());
    expect(fingerprint).toMatch(/^(\d{5} ){7}\d{5}$/);
    expect(organizationKeyFingerprint(key.getPublicKey())).toBe(fingerprint);
    expect(organizationKeyFingerprint(generateOrganizationKey().getPublicKey())).not.toBe(fingerprint);
  });
});

describe('audit chain', () => {
  const chain = (count: number): AuditChainEntry[] => {
    const entries: AuditChainEntry[] = [];
    let prev: Uint8Array = AUDIT_GENESIS_HASH;
    for (let seq = 1; seq <= count; seq++) {
      const fields = { at: NOW + seq, event: 'registered', actor: ALICE, target: seq % 2 ? BOB : null };
      const hash = auditEntryHash(prev, fields);
      entries.push({ ...fields, seq, prevHash: prev, hash });
      prev = hash;
    }
    return entries;
  };

  it('should verify an intact chain and find the first edited, removed or reordered entry', () => {
    const entries = chain(5);
    expect(verifyAuditChain(entries)).toEqual({ brokenAt: null, head: entries[4]!.hash });
    expect(verifyAuditChain(entries.slice(2), entries[1]!.hash).brokenAt).toBeNull();
    const edited = entries.map((e) => (e.seq === 3 ? { ...e, target: ALICE } : e));
    expect(verifyAuditChain(edited).brokenAt).toBe(3);
    const removed = entries.filter((e) => e.seq !== 2);
    expect(verifyAuditChain(removed).brokenAt).toBe(3);
    const swapped = [entries[0]!, entries[2]!, entries[1]!, entries[3]!, entries[4]!];
    expect(verifyAuditChain(swapped).brokenAt).toBe(3);
    // An edit that recomputes its own hash still breaks the link of the entry after it.
    const rehashed = entries.map((e) =>
      e.seq === 3 ? { ...e, event: 'x', hash: auditEntryHash(e.prevHash, { ...e, event: 'x' }) } : e,
    );
    expect(verifyAuditChain(rehashed).brokenAt).toBe(4);
  });
});

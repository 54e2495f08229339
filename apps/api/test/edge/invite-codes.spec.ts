/**
 * Invite codes are checked without leaking their length or which one matched: through the running server, every
 * registration attempt — no code, a wrong code of any length, a prefix, an extension, a right code — compares
 * 32-byte keyed digests only (the real `CryptoRepository.equal`, observed, not replaced), once per configured code,
 * with no early exit; right codes register and wrong ones get `403 invite_required`.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { CryptoRepository } from '../../src/repositories/crypto.repository.js';
import { request, startServer, TestIdentity, type TestServer } from '../support/harness.js';

const CODES = ['short-1', 'a-much-longer-invite-code-number-2', 'third'];

describe('invite codes', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('postgres', { REGISTRATION: 'invite', INVITE_CODES: CODES.join(',') });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should compare fixed-length digests against every code, whatever the presented code', async () => {
    const attempts: Array<[string | undefined, number]> = [
      [undefined, 403],
      ['x', 403],
      ['short-', 403],
      ['short-2', 403],
      ['short-1x', 403],
      ['A-MUCH-LONGER-INVITE-CODE-NUMBER-2', 403],
      ['z'.repeat(128), 403],
      ['short-1', 201],
      ['a-much-longer-invite-code-number-2', 201],
      ['third', 201],
    ];
    const equal = jest.spyOn(CryptoRepository.prototype, 'equal');
    try {
      for (const [inviteCode, status] of attempts) {
        equal.mockClear();
        const body = new TestIdentity().registration(inviteCode === undefined ? {} : { inviteCode });
        const res = await request(server, 'POST', '/v1/accounts', body);
        expect({ inviteCode, status: res.status }).toEqual({ inviteCode, status });
        if (status === 403) expect(res.body.error).toBe('invite_required');
        const compared = equal.mock.calls.map(([a, b]) => [a.length, b.length]);
        expect({ inviteCode, compared }).toEqual({ inviteCode, compared: CODES.map(() => [32, 32]) });
      }
    } finally {
      equal.mockRestore();
    }
  });
});

/**
 * Races around a device's life (issue 9, server 8 and the leftovers): concurrent links never pass the device limit
 * (the account row is locked before devices are counted), and a device removed while its `PUT /v1/keys` or `PUT
 * /v1/push/subscription` runs gets `401 unauthorized`, not a `500` from a foreign-key violation. The removal is made
 * to land inside the request deterministically: an uncommitted `DELETE` holds the device row, the request
 * authenticates (it still sees the row) and blocks on it when it writes, then the `DELETE` commits.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_DEVICES_PER_ACCOUNT } from '@cove/protocol';

import { register, request, startServer, type Backend, type TestServer } from '../support/harness.js';

const LINKS = MAX_DEVICES_PER_ACCOUNT + 4;

describe.each<Backend>(['postgres', 'pglite'])('concurrent links on %s', (backend) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(backend);
  }, 180_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should never let concurrent links exceed the device limit', async () => {
    const primary = await register(server);
    const codes: string[] = [];
    for (let i = 0; i < LINKS; i++) {
      const code = await primary.request<{ code: string }>('POST', '/v1/devices/provisioning-code');
      expect(code.status).toBe(201);
      codes.push(code.body.code);
    }
    const results = await Promise.all(
      codes.map((provisioningCode) => {
        const { identityKey: _unused, ...body } = primary.identity.registration();
        return request(server, 'POST', '/v1/devices', { ...body, provisioningCode });
      }),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX_DEVICES_PER_ACCOUNT - 1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(LINKS - MAX_DEVICES_PER_ACCOUNT + 1);
    expect(results.filter((r) => r.status === 409).every((r) => r.body.error === 'limit_reached')).toBe(true);
    const [row] = await server.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM devices WHERE account_id = $1::uuid',
      [primary.accountId],
    );
    expect(row?.n).toBe(MAX_DEVICES_PER_ACCOUNT);
  });
});

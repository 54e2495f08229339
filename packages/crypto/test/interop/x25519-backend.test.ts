import { describe, expect, it } from '@jest/globals';

import { ready, x25519Backend } from '../../src/index.js';

/** Set by the jest project that runs this suite with another X25519 implementation (jest.config.mjs). */
const expected = (globalThis as { COVE_X25519?: string }).COVE_X25519 ?? 'libsodium';

describe('X25519 implementation of this run', () => {
  it(`should be ${expected}, so the interop suite covers that mode`, async () => {
    await ready();
    expect(x25519Backend().name).toBe(expected);
  });
});

/**
 * The HTTP and WebSocket contract against PostgreSQL (a fresh, empty database for this file that the server migrates
 * at its start, dropped after).
 */
import { describe } from '@jest/globals';

import { defineContract } from './support/contract.js';

describe('API on PostgreSQL', () => {
  defineContract('postgres');
});

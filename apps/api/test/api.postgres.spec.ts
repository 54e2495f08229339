/** The HTTP and WebSocket contract against PostgreSQL (a fresh database for this file, dropped after). */
import { describe } from '@jest/globals';

import { defineContract } from './support/contract.js';

describe('API on PostgreSQL', () => {
  defineContract('postgres');
});

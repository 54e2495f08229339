/** The HTTP and WebSocket contract against the embedded PGlite database (in memory). */
import { describe } from '@jest/globals';

import { defineContract } from './support/contract.js';

describe('API on PGlite', () => {
  defineContract('pglite');
});

/**
 * Jest setup of the `crypto-node-x25519` project: runs the interop suite with Node's native X25519 (the
 * implementation `useNodeX25519` of `@cove/client/node` installs) instead of libsodium's, the default the `crypto` project
 * runs. Fails the whole project if the implementation is refused by `useX25519Backend`'s check.
 */
import { nodeX25519 } from '../../../client/src/node/node-x25519.js';
import { ready, useX25519Backend } from '../../src/index.js';

await ready();
useX25519Backend(nodeX25519);

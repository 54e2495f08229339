/**
 * `@cove/client/node`: the Node platform (file storage in a data directory, `ws`, fetch, timers, an in-process lock
 * manager) for the CLI, bots and tests.
 */
export * from './file-storage.js';
export * from './node-platform.js';
export * from './file-blob-store.js';
export * from './node-x25519.js';

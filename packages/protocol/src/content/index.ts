/**
 * Message content: the `Content` protobuf codec and the length padding applied before encryption.
 * Encryption itself is the client's job (with @cove/crypto).
 */
export * from './content.codec.js';
export * from './padding.js';

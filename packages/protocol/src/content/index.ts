/**
 * Message content: the `Content` protobuf codec (generated from content.proto, wrapped with Cove's bounds) and the
 * length padding applied before encryption. Encryption itself is the client's job (with @cove/crypto); the generated
 * message classes and the wire check stay internal.
 */
export * from './content.bounds.js';
export * from './content.codec.js';
export * from './content.types.js';
export * from './padding.js';

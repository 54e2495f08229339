/**
 * `@cove/protocol`: the wire types shared by the Cove server and its clients — HTTP bodies, WebSocket frames, error
 * codes, limits, base64 helpers and the OpenAPI document built from the same schemas. No I/O, no crypto.
 */
export * from './base64.js';
export * from './content/index.js';
export * from './errors.js';
export * from './frames.js';
export * from './history-archive.js';
export * from './http.js';
export * from './limits.js';
export * from './openapi.js';
export * from './password.js';
export * from './provisioning.js';
export * from './push.js';

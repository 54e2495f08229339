/**
 * One type per key role of the triple ratchet, as libsignal and vodozemac have: plain `Uint8Array`s at run time,
 * distinct for the compiler, so a chain key cannot be passed where a root key is expected, nor an SPQR key where
 * a Double Ratchet one is. A value gets its role where it is created: by the derivation that produces it
 * (ratchet/keys.ts, spqr/chain.ts, spqr/key-sequence.ts, spqr/braid-state.ts), and through the `as…` functions
 * below only where bytes become a key from outside a derivation (the handshake's output, a stored record). Holds
 * no logic and no keys; how secrets print is redaction.ts's.
 */

declare const keyRole: unique symbol;

/** Bytes that play one key role; the role exists only at compile time. */
export type KeyBytes<Role extends string> = Uint8Array & { readonly [keyRole]: Role };

/** The Double Ratchet root key: mixed with each DH output into the next root key and a fresh chain key. */
export type RootKey = KeyBytes<'RootKey'>;
/** A Double Ratchet sending or receiving chain key: one message seed per message, then the next chain key. */
export type ChainKey = KeyBytes<'ChainKey'>;
/** A message's seed from its chain (kept for skipped messages), salted with its SPQR key into its keys. */
export type MessageSeed = KeyBytes<'MessageSeed'>;
/** A message's AES-256-CBC key. */
export type CipherKey = KeyBytes<'CipherKey'>;
/** A message's HMAC-SHA256 key (the 8-byte MAC of a SignalMessage). */
export type MacKey = KeyBytes<'MacKey'>;

/** SPQR's root key, into which every epoch secret is mixed. */
export type SpqrRootKey = KeyBytes<'SpqrRootKey'>;
/** One direction's SPQR chain key within one epoch. */
export type SpqrChainKey = KeyBytes<'SpqrChainKey'>;
/** SPQR's per-message key: the HKDF salt of that message's Double Ratchet keys. */
export type SpqrMessageKey = KeyBytes<'SpqrMessageKey'>;
/** The secret one ML-KEM braid epoch agrees on (mixed into the SPQR root key and the authenticator). */
export type SpqrEpochSecret = KeyBytes<'SpqrEpochSecret'>;

/** Bytes from the handshake or a stored record, as a root key. */
export function asRootKey(bytes: Uint8Array): RootKey {
  return bytes as RootKey;
}

/** Bytes from the handshake or a stored record, as a chain key. */
export function asChainKey(bytes: Uint8Array): ChainKey {
  return bytes as ChainKey;
}

/** Bytes from a stored record, as a skipped message's seed. */
export function asMessageSeed(bytes: Uint8Array): MessageSeed {
  return bytes as MessageSeed;
}

/** Bytes from a stored SPQR state, as its root key. */
export function asSpqrRootKey(bytes: Uint8Array): SpqrRootKey {
  return bytes as SpqrRootKey;
}

/** Bytes from a stored SPQR state, as a chain key. */
export function asSpqrChainKey(bytes: Uint8Array): SpqrChainKey {
  return bytes as SpqrChainKey;
}

/** Bytes from a known-answer test, as an epoch secret (the braid derives every real one). */
export function asSpqrEpochSecret(bytes: Uint8Array): SpqrEpochSecret {
  return bytes as SpqrEpochSecret;
}

/** Bytes from a stored SPQR state, as a skipped message key. */
export function asSpqrMessageKey(bytes: Uint8Array): SpqrMessageKey {
  return bytes as SpqrMessageKey;
}

/**
 * PQXDH (facts §3): the initiator ("Alice") side from a verified prekey bundle and the responder ("Bob") side
 * from a PreKeySignalMessage, each producing the initial Double Ratchet + SPQR session state. The master secret
 * is 0xFF×32 ‖ DH1 ‖ DH2 ‖ DH3 ‖ [DH4] ‖ Kyber secret, expanded by HKDF into root key, chain key and the SPQR
 * auth key. Whether the session is a note-to-self one (fixed in its SPQR state) is the caller's to say.
 * Signature checks, trust decisions and stores are the caller's job (session/session-cipher.ts).
 */
import type { ProtocolAddress } from '../address.js';
import { SESSION_VERSION } from '../constants.js';
import { ErrorCode, fail } from '../errors.js';
import type { PublicKey } from '../keys/curve.js';
import { PrivateKey } from '../keys/curve.js';
import type { KEMPublicKey, KEMSecretKey } from '../keys/kem.js';
import { concat, hkdf, utf8 } from '../primitives/hash.js';
import type { Rng } from '../primitives/random.js';
import { sodium } from '../primitives/sodium.js';
import { montgomeryToEdwardsY } from '../primitives/xeddsa.js';
import type { ChainKey, RootKey } from '../ratchet/key-roles.js';
import { asChainKey, asRootKey } from '../ratchet/key-roles.js';
import { rootStep } from '../ratchet/keys.js';
import type { SessionState } from '../ratchet/session-state.js';
import { spqrInitialState } from '../ratchet/spqr/index.js';

const PQXDH_INFO = utf8('WhisperText_X25519_SHA-256_CRYSTALS-KYBER-1024');
const DISCONTINUITY = new Uint8Array(32).fill(0xff);

function deriveInitial(
  dhs: Uint8Array[],
  kemSecret: Uint8Array,
): { rootKey: RootKey; chainKey: ChainKey; pqrAuthKey: Uint8Array } {
  const okm = hkdf(concat(DISCONTINUITY, ...dhs, kemSecret), null, PQXDH_INFO, 96);
  return {
    rootKey: asRootKey(okm.slice(0, 32)),
    chainKey: asChainKey(okm.slice(32, 64)),
    pqrAuthKey: okm.slice(64, 96),
  };
}

function agree(priv: PrivateKey, pub: PublicKey): Uint8Array {
  try {
    return priv.agree(pub);
  } catch (cause) {
    return fail(ErrorCode.InvalidKeyAgreement, 'PQXDH', 'invalid key agreement', { cause });
  }
}

/**
 * Whether a session is a note to self: the peer is another device of our own account, with our account's name
 * (ServiceId) and our identity key, as libsignal decides it (facts §5). Such a session lifts SPQR's jump limit.
 */
export function isSameAccount(
  address: ProtocolAddress,
  localAddress: ProtocolAddress,
  theirIdentity: PublicKey,
  ourIdentity: PublicKey,
): boolean {
  return address.name() === localAddress.name() && theirIdentity.equals(ourIdentity);
}

export interface AliceParameters {
  ourIdentity: { publicKey: PublicKey; privateKey: PrivateKey };
  localRegistrationId: number;
  theirRegistrationId: number;
  theirIdentityKey: PublicKey;
  theirSignedPreKey: PublicKey;
  theirSignedPreKeyId: number;
  theirOneTimePreKey: PublicKey | null;
  theirOneTimePreKeyId: number | null;
  theirKyberPreKey: KEMPublicKey;
  theirKyberPreKeyId: number;
  /** The bundle is another device of our own account (note to self): SPQR accepts any forward jump. */
  selfSession?: boolean;
  now: number;
  rng: Rng;
}

export function initializeAliceSession(p: AliceParameters): SessionState {
  const base = PrivateKey.generate(p.rng);
  const dhs = [
    agree(p.ourIdentity.privateKey, p.theirSignedPreKey),
    agree(base, p.theirIdentityKey),
    agree(base, p.theirSignedPreKey),
  ];
  if (p.theirOneTimePreKey) dhs.push(agree(base, p.theirOneTimePreKey));
  const { ciphertext, sharedSecret } = p.theirKyberPreKey.encapsulate(p.rng);
  const { rootKey, chainKey, pqrAuthKey } = deriveInitial(dhs, sharedSecret);

  const sending = PrivateKey.generate(p.rng);
  const step = rootStep(rootKey, agree(sending, p.theirSignedPreKey));
  return {
    sessionVersion: SESSION_VERSION,
    localIdentityKey: p.ourIdentity.publicKey,
    remoteIdentityKey: p.theirIdentityKey,
    localRegistrationId: p.localRegistrationId,
    remoteRegistrationId: p.theirRegistrationId,
    rootKey: step.rootKey,
    previousCounter: 0,
    senderChain: { ratchetPrivate: sending, ratchetPublic: sending.getPublicKey(), chainKey: step.chainKey, index: 0 },
    receiverChains: [{ ratchetKey: p.theirSignedPreKey, chainKey, index: 0, skipped: new Map() }],
    pendingPreKey: {
      preKeyId: p.theirOneTimePreKeyId,
      signedPreKeyId: p.theirSignedPreKeyId,
      kyberPreKeyId: p.theirKyberPreKeyId,
      kyberCiphertext: ciphertext,
      baseKey: base.getPublicKey(),
      timestamp: p.now,
    },
    aliceBaseKey: base.getPublicKey(),
    spqr: spqrInitialState(pqrAuthKey, 'A2B', { selfSession: p.selfSession === true }),
  };
}

/** libsignal's `is_canonical`: high bit clear, u < p, and a torsion-free point (facts §7). */
export function isCanonicalBaseKey(key: PublicKey): boolean {
  const u = key.rawView();
  if (((u[31] as number) & 0x80) !== 0) return false;
  // u < p = 2^255 - 19: only values in [p, 2^255) are non-canonical.
  let geP = (u[31] as number) === 0x7f && (u[0] as number) >= 0xed;
  for (let i = 1; i < 31 && geP; i++) if (u[i] !== 0xff) geP = false;
  if (geP) return false;
  const y = montgomeryToEdwardsY(u);
  if (!y) return false;
  return sodium().crypto_core_ed25519_is_valid_point(y);
}

export interface BobParameters {
  ourIdentity: { publicKey: PublicKey; privateKey: PrivateKey };
  localRegistrationId: number;
  theirRegistrationId: number;
  ourSignedPreKey: PrivateKey;
  ourOneTimePreKey: PrivateKey | null;
  ourKyberSecretKey: KEMSecretKey;
  theirIdentityKey: PublicKey;
  theirBaseKey: PublicKey;
  kyberCiphertext: Uint8Array;
  /** The message comes from another device of our own account (note to self): SPQR accepts any forward jump. */
  selfSession?: boolean;
}

export function initializeBobSession(p: BobParameters): SessionState {
  if (!isCanonicalBaseKey(p.theirBaseKey)) fail(ErrorCode.InvalidMessage, 'PQXDH', 'invalid base key (not canonical)');
  const dhs = [
    agree(p.ourSignedPreKey, p.theirIdentityKey),
    agree(p.ourIdentity.privateKey, p.theirBaseKey),
    agree(p.ourSignedPreKey, p.theirBaseKey),
  ];
  if (p.ourOneTimePreKey) dhs.push(agree(p.ourOneTimePreKey, p.theirBaseKey));
  const kemSecret = p.ourKyberSecretKey.decapsulate(p.kyberCiphertext);
  const { rootKey, chainKey, pqrAuthKey } = deriveInitial(dhs, kemSecret);
  return {
    sessionVersion: SESSION_VERSION,
    localIdentityKey: p.ourIdentity.publicKey,
    remoteIdentityKey: p.theirIdentityKey,
    localRegistrationId: p.localRegistrationId,
    remoteRegistrationId: p.theirRegistrationId,
    rootKey,
    previousCounter: 0,
    senderChain: {
      ratchetPrivate: p.ourSignedPreKey,
      ratchetPublic: p.ourSignedPreKey.getPublicKey(),
      chainKey,
      index: 0,
    },
    receiverChains: [],
    pendingPreKey: null,
    aliceBaseKey: p.theirBaseKey,
    spqr: spqrInitialState(pqrAuthKey, 'B2A', { selfSession: p.selfSession === true }),
  };
}

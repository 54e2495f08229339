/**
 * The states of the ML-KEM Braid (ML-KEM Braid spec, §2 "The ML-KEM Braid Protocol": the key-owner role
 * "send_ek" and the encapsulator role "send_ct"), as immutable tagged values, and what the transitions of both
 * roles share: the sizes of the values sent in chunks, the epoch secret derivation and the entry state of each
 * role.
 *
 * Every state carries its epoch and the authenticator (§2.4 "Authentication", authenticator.ts). A state holds at
 * most one value being sent (`outgoing`, an erasure-code encoder) and one being received (`incoming`, a decoder),
 * plus the secrets it still needs. The state names are the specification's; state.ts stores them by position in
 * `BRAID_TAGS`, which therefore must never be reordered. This module defines no transitions (braid-key-owner.ts,
 * braid-encapsulator.ts, braid.ts) and derives no message keys (chain.ts).
 */
import type { SpqrEpochSecret } from '../key-roles.js';
import type { Authenticator } from './authenticator.js';
import { MAC_SIZE } from './authenticator.js';
import type { Decoder, Encoder } from './erasure-code.js';
import { newDecoder, nextChunk } from './erasure-code.js';
import { CT2_SIZE, HEADER_SIZE } from './incremental-mlkem768.js';
import { ZERO_SALT, ascii, be64, concatBytes, hkdfSha256 } from './kdf.js';
import type { Chunk } from './message.js';
import type { MessageType } from './message.js';

/** Caller-supplied randomness: `length` fresh random bytes. */
export type Rng = (length: number) => Uint8Array;

/** The header as sent: the 64-byte ML-KEM header followed by its MAC (three chunks). */
export const HEADER_PAYLOAD_SIZE = HEADER_SIZE + MAC_SIZE;
/** The second ciphertext part as sent: the 128-byte ct2 followed by the ciphertext MAC (five chunks). */
export const CT2_PAYLOAD_SIZE = CT2_SIZE + MAC_SIZE;

interface InEpoch {
  readonly epoch: number;
  readonly auth: Authenticator;
}

/** The key-owner role of an epoch (it generates the key pair and decapsulates). */
export type KeyOwnerState =
  | (InEpoch & { readonly tag: 'KeysUnsampled' })
  | (InEpoch & { readonly tag: 'KeysSampled'; readonly decapsKey: Uint8Array; readonly outgoing: Encoder })
  | (InEpoch & {
      readonly tag: 'HeaderSent';
      readonly decapsKey: Uint8Array;
      readonly outgoing: Encoder;
      readonly incoming: Decoder;
    })
  | (InEpoch & {
      readonly tag: 'Ct1Received';
      readonly decapsKey: Uint8Array;
      readonly ct1: Uint8Array;
      readonly outgoing: Encoder;
    })
  | (InEpoch & {
      readonly tag: 'EkSentCt1Received';
      readonly decapsKey: Uint8Array;
      readonly ct1: Uint8Array;
      readonly incoming: Decoder;
    });

/** The encapsulator role of an epoch (it encapsulates to the other side's key in two halves). */
export type EncapsulatorState =
  | (InEpoch & { readonly tag: 'NoHeaderReceived'; readonly incoming: Decoder })
  | (InEpoch & { readonly tag: 'HeaderReceived'; readonly header: Uint8Array })
  | (InEpoch & {
      readonly tag: 'Ct1Sampled';
      readonly header: Uint8Array;
      readonly encapsSeed: Uint8Array;
      readonly outgoing: Encoder;
      readonly incoming: Decoder;
    })
  | (InEpoch & {
      readonly tag: 'EkReceivedCt1Sampled';
      readonly header: Uint8Array;
      readonly encapsSeed: Uint8Array;
      readonly encapsKey: Uint8Array;
      readonly outgoing: Encoder;
    })
  | (InEpoch & {
      readonly tag: 'Ct1Acknowledged';
      readonly header: Uint8Array;
      readonly encapsSeed: Uint8Array;
      readonly ct1: Uint8Array;
      readonly incoming: Decoder;
    })
  | (InEpoch & { readonly tag: 'Ct2Sampled'; readonly outgoing: Encoder });

export type BraidState = KeyOwnerState | EncapsulatorState;
export type BraidTag = BraidState['tag'];
/** The state with tag T. */
export type StateOf<T extends BraidTag> = Extract<BraidState, { tag: T }>;

/** Every state, key-owner role first, in the order state.ts numbers them (format 1: never reorder). */
export const BRAID_TAGS: readonly BraidTag[] = [
  'KeysUnsampled',
  'KeysSampled',
  'HeaderSent',
  'Ct1Received',
  'EkSentCt1Received',
  'NoHeaderReceived',
  'HeaderReceived',
  'Ct1Sampled',
  'EkReceivedCt1Sampled',
  'Ct1Acknowledged',
  'Ct2Sampled',
];

export const KEY_OWNER_TAGS: ReadonlySet<BraidTag> = new Set(BRAID_TAGS.slice(0, 5));
/** Encapsulator states after the first half of encapsulation: their epoch's secret is already in the chain. */
export const ENCAPSULATED_TAGS: ReadonlySet<BraidTag> = new Set(BRAID_TAGS.slice(7));

/** A braid message before the key chain gives it an index. */
export interface BraidMessage {
  readonly epoch: number;
  readonly type: MessageType;
  readonly chunk: Chunk | null;
}

/** A freshly agreed secret and the epoch it belongs to. */
export interface EpochSecret {
  readonly epoch: number;
  readonly secret: SpqrEpochSecret;
}

/** What sending in a state yields. */
export interface Sent {
  readonly next: BraidState;
  readonly message: BraidMessage;
  readonly secret: EpochSecret | null;
}

/** What receiving a chunk in a state yields. */
export interface Received {
  readonly next: BraidState;
  readonly secret: EpochSecret | null;
}

/** One message carrying the next chunk of `outgoing`, and the encoder after it. */
export function emit(
  epoch: number,
  type: MessageType,
  outgoing: Encoder,
): { message: BraidMessage; outgoing: Encoder } {
  const { encoder, chunk } = nextChunk(outgoing);
  return { message: { epoch, type, chunk }, outgoing: encoder };
}

export function stay(state: BraidState): Received {
  return { next: state, secret: null };
}

const SECRET_LABEL = ascii('Signal_PQCKA_V1_MLKEM768:SCKA Key');

/** The epoch secret from an ML-KEM shared secret: HKDF(0³², ss, label ‖ be64(epoch), 32). */
export function deriveEpochSecret(sharedSecret: Uint8Array, epoch: number): EpochSecret {
  const secret = hkdfSha256(ZERO_SALT, sharedSecret, concatBytes(SECRET_LABEL, be64(epoch)), 32);
  return { epoch, secret: secret as SpqrEpochSecret };
}

/** Entry into the key-owner role of `epoch`: nothing sampled yet. */
export function keyOwnerEntry(epoch: number, auth: Authenticator): StateOf<'KeysUnsampled'> {
  return { tag: 'KeysUnsampled', epoch, auth };
}

/** Entry into the encapsulator role of `epoch`: waiting for the header. */
export function encapsulatorEntry(epoch: number, auth: Authenticator): StateOf<'NoHeaderReceived'> {
  return { tag: 'NoHeaderReceived', epoch, auth, incoming: newDecoder(HEADER_PAYLOAD_SIZE) };
}

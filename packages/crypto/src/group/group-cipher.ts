/**
 * Sender-key group messaging over a `SenderKeyStore`, with libsignal-client 0.103's function names, argument
 * order, rules and errors: `processSenderKeyDistributionMessage` stores a member's chain, `groupEncrypt` sends on
 * our current chain (AES-256-CBC under the chain's message key, signed by our signing key) and advances it,
 * `groupDecrypt` finds the state by the message's distribution id and chain id, verifies the signature, then takes
 * the message key: a kept one for a late message, `DuplicatedMessage` for one already used, a forward jump of at
 * most MAX_FORWARD_JUMPS keeping up to MAX_MESSAGE_KEYS skipped keys. A record is saved only after everything
 * succeeded, so a refused message changes nothing.
 *
 * Does not decide who may send to a group or distribute keys (the client does, over 1:1 sessions), and does not
 * authenticate the distribution message itself: its sender is whoever the caller names, so callers pass the
 * address of the 1:1 session it arrived on. Rotation is the caller's: a new distribution id, or a store without
 * our record, then `SenderKeyDistributionMessage.create`.
 */
import { ProtocolAddress } from '../address.js';
import { MAX_FORWARD_JUMPS } from '../constants.js';
import { ErrorCode, fail } from '../errors.js';
import { aes256CbcDecrypt, aes256CbcEncrypt } from '../primitives/aes.js';
import type { Rng } from '../primitives/random.js';
import { defaultRng } from '../primitives/random.js';
import type { CiphertextMessage } from '../wire/messages.js';
import {
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  distributionIdFromBytes,
  distributionIdToBytes,
} from './sender-key-messages.js';
import type { SenderKeyState, SenderMessageSeed } from './sender-key-record.js';
import {
  MAX_ITERATION,
  SenderKeyRecord,
  keepMessageSeeds,
  nextSenderChainKey,
  senderMessageKeys,
  senderMessageSeed,
} from './sender-key-record.js';
import { SenderKeyStore } from './sender-key-store.js';

function checkArgs(sender: unknown, store: unknown, operation: string): void {
  if (!(sender instanceof ProtocolAddress)) fail(ErrorCode.InvalidArgument, operation, 'expected a ProtocolAddress');
  if (!(store instanceof SenderKeyStore)) fail(ErrorCode.InvalidArgument, operation, 'expected a SenderKeyStore');
}

function noState(operation: string, distributionId: string): never {
  return fail(ErrorCode.NoSenderKeyState, operation, `missing sender key state for distribution ID ${distributionId}`);
}

/** Stores `message`'s chain as `sender`'s for its distribution id (see SenderKeyRecord._addState for repeats). */
export async function processSenderKeyDistributionMessage(
  sender: ProtocolAddress,
  message: SenderKeyDistributionMessage,
  store: SenderKeyStore,
): Promise<void> {
  const op = 'SenderKeyDistributionMessage_Process';
  checkArgs(sender, store, op);
  if (!(message instanceof SenderKeyDistributionMessage))
    fail(ErrorCode.InvalidArgument, op, 'expected a SenderKeyDistributionMessage');
  const id = message.distributionId();
  const record = (await store.getSenderKey(sender, id))?._copy() ?? SenderKeyRecord._empty();
  record._addState(message.chainId(), message.iteration(), message.chainKey(), message._signingKey(), null);
  await store.saveSenderKey(sender, id, record);
}

/** Encrypts `message` on our current chain for `distributionId` and advances the chain. */
export async function groupEncrypt(
  sender: ProtocolAddress,
  distributionId: string,
  store: SenderKeyStore,
  message: Uint8Array,
  rng: Rng = defaultRng,
): Promise<CiphertextMessage> {
  const op = 'GroupCipher_EncryptMessage';
  checkArgs(sender, store, op);
  if (!(message instanceof Uint8Array)) fail(ErrorCode.InvalidArgument, op, 'expected plaintext bytes');
  const dist = distributionIdToBytes(distributionId, op);
  const id = distributionIdFromBytes(dist);
  const record = (await store.getSenderKey(sender, id))?._copy();
  const state = record?._currentState();
  if (!record || !state) noState(op, id);
  const signing = state.signingPrivateKey;
  if (!signing) fail(ErrorCode.InvalidSenderKeySession, op, `invalid sender key session with distribution ID ${id}`);
  if (state.iteration >= MAX_ITERATION)
    fail(ErrorCode.InvalidSenderKeySession, op, `sender key chain exhausted for distribution ID ${id}`);
  const { iv, cipherKey } = senderMessageKeys(senderMessageSeed(state.chainKey));
  const ciphertext = aes256CbcEncrypt(cipherKey, iv, message);
  const out = SenderKeyMessage._build(dist, state.chainId, state.iteration, ciphertext, signing, rng);
  state.chainKey = nextSenderChainKey(state.chainKey);
  state.iteration += 1;
  await store.saveSenderKey(sender, id, record);
  return out.asCiphertextMessage();
}

/**
 * The message key for `iteration` from `state`, changing `state` (a copy) as a successful decryption would:
 * a kept seed is removed; a jump keeps the skipped seeds and moves the chain past `iteration`.
 */
function takeMessageSeed(state: SenderKeyState, iteration: number, op: string): Uint8Array {
  if (iteration < state.iteration) {
    const i = state.messageKeys.findIndex((k) => k.iteration === iteration);
    const kept = state.messageKeys[i];
    if (!kept) fail(ErrorCode.DuplicatedMessage, op, `message with old counter ${state.iteration} / ${iteration}`);
    state.messageKeys = state.messageKeys.filter((_, j) => j !== i);
    return kept.seed;
  }
  if (iteration - state.iteration > MAX_FORWARD_JUMPS)
    fail(ErrorCode.InvalidMessage, op, 'invalid sender key message: message from too far into the future');
  if (iteration >= MAX_ITERATION)
    fail(ErrorCode.InvalidMessage, op, 'invalid sender key message: iteration out of range');
  let ck = state.chainKey;
  const skipped: SenderMessageSeed[] = [];
  for (let it = state.iteration; it < iteration; it++) {
    skipped.push({ iteration: it, seed: senderMessageSeed(ck) });
    ck = nextSenderChainKey(ck);
  }
  keepMessageSeeds(state, skipped);
  state.chainKey = nextSenderChainKey(ck);
  state.iteration = iteration + 1;
  return senderMessageSeed(ck);
}

/** Decrypts a serialized `SenderKeyMessage` from `sender`; the record is saved only on success. */
export async function groupDecrypt(
  sender: ProtocolAddress,
  store: SenderKeyStore,
  message: Uint8Array,
): Promise<Uint8Array> {
  const op = 'GroupCipher_DecryptMessage';
  checkArgs(sender, store, op);
  const skm = SenderKeyMessage.deserialize(message);
  const id = skm.distributionId();
  const record = (await store.getSenderKey(sender, id))?._copy();
  const state = record?._stateForChainId(skm.chainId());
  if (!record || !state) noState(op, id);
  if (!skm.verifySignature(state.signingKey)) fail(ErrorCode.InvalidSignature, op, 'invalid signature detected');
  const seed = takeMessageSeed(state, skm.iteration(), op);
  const { iv, cipherKey } = senderMessageKeys(seed);
  const plaintext = aes256CbcDecrypt(cipherKey, iv, skm.ciphertext());
  if (!plaintext) fail(ErrorCode.InvalidMessage, op, 'invalid sender key message: decryption failed');
  await store.saveSenderKey(sender, id, record);
  return plaintext;
}

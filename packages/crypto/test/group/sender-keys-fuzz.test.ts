/**
 * Fuzzing (fast-check) of every sender-key wire message and the record (issue 14): arbitrary bytes and mutations
 * of valid encodings (bit flips, byte writes, truncation, deletion, insertion, huge varints) fed to
 * `SenderKeyMessage`, `SenderKeyDistributionMessage` and `SenderKeyRecord` decoding must fail only with typed
 * errors, re-encode stably when accepted, and agree with libsignal-client on what parses and what it holds. Fuzzed
 * group messages — also field-level mutations re-signed with the genuine signing key, so they reach the chain
 * logic — and fuzzed distribution messages must leave the store byte-identical and unwritten whenever refused.
 */
/* eslint-disable @typescript-eslint/require-await -- the store interface is async; these in-memory bodies have nothing to await */
import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import * as C from '../../src/index.js';
import { readProtoFields, writeProtoFields } from '../interop/harness.js';

const L = (await import('@signalapp/libsignal-client')) as unknown as typeof C;

beforeAll(async () => {
  await C.ready();
});

const E = C.ErrorCode;
const PARSE_ERRORS = [E.InvalidMessage, E.LegacyCiphertextVersion, E.UnrecognizedCiphertextVersion, E.InvalidKey];
const DECRYPT_ERRORS = [...PARSE_ERRORS, E.DuplicatedMessage, E.NoSenderKeyState, E.InvalidSignature];
/** Per property: deep enough into each decoder, few enough for a shared 2-core machine. */
const RUNS = 400;
const FUZZ_TIMEOUT_MS = 120_000;

const ALICE = C.ProtocolAddress.new('9d0652a3-dcc3-4d11-975f-74d61598733f', 1);
const DIST = 'd1d1d1d1-7000-11eb-b32a-33b8a8a487a6';

function expectTyped(error: unknown, codes: readonly C.ErrorCode[]): void {
  if (!(error instanceof C.SignalClientError)) throw new Error(`not a SignalClientError: ${String(error)}`);
  if (!codes.includes(error.code)) throw new Error(`unexpected code ${E[error.code]}: ${error.message}`);
}

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'hugeVarint'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    kind: fc.constant('set' as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(0x00, 0x01, 0x05, 0x33, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ kind: fc.constant('hugeVarint' as const), at: fc.nat() }),
);
const mutations = fc.array(mutation, { minLength: 1, maxLength: 4 });

function mutate(input: Uint8Array, ms: readonly Mutation[]): Uint8Array {
  let b = input.slice();
  for (const m of ms) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    const at0 = b.length === 0 ? 0 : m.at % b.length;
    if (m.kind === 'flip' && b.length > 0) b[at0]! ^= 1 << m.bit;
    else if (m.kind === 'set' && b.length > 0) b[at0] = m.value;
    else if (m.kind === 'truncate') b = b.slice(0, at);
    else if (m.kind === 'delete') b = Uint8Array.of(...b.subarray(0, at), ...b.subarray(at + m.length));
    else if (m.kind === 'insert') b = Uint8Array.of(...b.subarray(0, at), ...m.bytes, ...b.subarray(at));
    else if (m.kind === 'hugeVarint')
      b = Uint8Array.of(...b.subarray(0, at), 0xff, 0xff, 0xff, 0xff, 0x0f, ...b.subarray(at));
  }
  return b;
}

/** A field-level change that keeps the protobuf framing valid: one field replaced by a number or mutated bytes. */
type FieldMutation = { field: number; number: number; ms: Mutation[] };
const fieldMutation: fc.Arbitrary<FieldMutation> = fc.record({
  field: fc.nat(),
  number: fc.oneof(fc.constantFrom(0, 1, 2, 3, 24_999, 25_000, 25_001, 0x7fff_ffff, 0xffff_ffff), fc.nat()),
  ms: mutations,
});

function mutateField(body: Uint8Array, f: FieldMutation): Uint8Array {
  const { version, fields } = readProtoFields(body);
  const i = f.field % fields.length;
  const target = fields[i]!;
  fields[i] = { no: target.no, value: typeof target.value === 'number' ? f.number : mutate(target.value, f.ms) };
  return writeProtoFields(version, fields);
}

class Store extends C.SenderKeyStore {
  readonly data = new Map<string, Uint8Array>();
  writes = 0;
  async saveSenderKey(sender: C.ProtocolAddress, id: string, record: C.SenderKeyRecord) {
    this.writes++;
    this.data.set(`${sender.toString()}::${id}`, record.serialize());
  }
  async getSenderKey(sender: C.ProtocolAddress, id: string) {
    const b = this.data.get(`${sender.toString()}::${id}`);
    return b ? C.SenderKeyRecord.deserialize(b) : null;
  }
  snapshot(): string {
    return [...this.data.entries()].map(([k, v]) => `${k}=${Buffer.from(v).toString('hex')}`).join(';');
  }
}

/** A sender whose signing key the test knows, a receiver holding its chain, and a few valid messages. */
async function fixture() {
  const signing = C.PrivateKey.generate();
  const ck = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
  const skdm = C.SenderKeyDistributionMessage._new(3, DIST, 1234, 0, ck, signing.getPublicKey());
  const sender = new Store();
  const record = C.SenderKeyRecord._empty();
  record._addState(1234, 0, ck, signing.getPublicKey(), signing);
  await sender.saveSenderKey(ALICE, DIST, record);
  const messages: Uint8Array[] = [];
  for (let i = 0; i < 4; i++)
    messages.push((await C.groupEncrypt(ALICE, DIST, sender, Uint8Array.of(i, i, i))).serialize());
  const receiver = new Store();
  await C.processSenderKeyDistributionMessage(ALICE, skdm, receiver);
  expect(await C.groupDecrypt(ALICE, receiver, messages[1]!)).toEqual(Uint8Array.of(1, 1, 1));
  receiver.writes = 0;
  return { signing, skdm, messages, receiver };
}

type Parsed = { chainId(): number; iteration(): number; distributionId(): string; serialize(): Uint8Array };

/** What a parse yields, as comparable text: the fields, or "refused". */
function summary(parse: () => Parsed & { chainKey?: () => Uint8Array; ciphertext?: () => Uint8Array }): string {
  try {
    const m = parse();
    const extra = m.chainKey?.() ?? m.ciphertext?.() ?? new Uint8Array();
    return `${m.distributionId()} ${m.chainId()} ${m.iteration()} ${Buffer.from(extra).toString('hex')}`;
  } catch {
    return 'refused';
  }
}

describe('sender-key decoding (fuzzed)', () => {
  it(
    'should parse SenderKeyMessage with typed errors only, stably, and as libsignal does',
    async () => {
      const { messages } = await fixture();
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.constantFrom(...messages), mutations).map(([m, ms]) => mutate(m, ms)),
        fc
          .tuple(fc.constantFrom(...messages), fieldMutation)
          .map(([m, f]) => Uint8Array.of(...mutateField(m.subarray(0, -64), f), ...m.subarray(-64))),
      );
      fc.assert(
        fc.property(input, (bytes) => {
          let parsed: C.SenderKeyMessage | null = null;
          try {
            parsed = C.SenderKeyMessage.deserialize(bytes);
          } catch (e) {
            expectTyped(e, PARSE_ERRORS);
          }
          if (parsed) {
            expect(parsed.serialize()).toEqual(bytes);
            const again = C.SenderKeyMessage.deserialize(parsed.serialize());
            expect([again.chainId(), again.iteration(), again.ciphertext()]).toEqual([
              parsed.chainId(),
              parsed.iteration(),
              parsed.ciphertext(),
            ]);
          }
          expect(summary(() => C.SenderKeyMessage.deserialize(bytes))).toBe(
            summary(() => L.SenderKeyMessage.deserialize(bytes)),
          );
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'should parse SenderKeyDistributionMessage with typed errors only, stably, and as libsignal does',
    async () => {
      const { skdm } = await fixture();
      const valid = skdm.serialize();
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        mutations.map((ms) => mutate(valid, ms)),
        fieldMutation.map((f) => mutateField(valid, f)),
      );
      fc.assert(
        fc.property(input, (bytes) => {
          let parsed: C.SenderKeyDistributionMessage | null = null;
          try {
            parsed = C.SenderKeyDistributionMessage.deserialize(bytes);
          } catch (e) {
            expectTyped(e, PARSE_ERRORS);
          }
          if (parsed) {
            const again = C.SenderKeyDistributionMessage.deserialize(parsed.serialize());
            expect(summary(() => again)).toBe(summary(() => parsed));
          }
          expect(summary(() => C.SenderKeyDistributionMessage.deserialize(bytes))).toBe(
            summary(() => L.SenderKeyDistributionMessage.deserialize(bytes)),
          );
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'should load SenderKeyRecord with InvalidRecord only and re-encode an accepted record exactly',
    async () => {
      const { receiver } = await fixture();
      const valid = receiver.data.get(`${ALICE.toString()}::${DIST}`)!;
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 300 }),
        mutations.map((ms) => mutate(valid, ms)),
      );
      fc.assert(
        fc.property(input, (bytes) => {
          try {
            expect(C.SenderKeyRecord.deserialize(bytes).serialize()).toEqual(bytes);
          } catch (e) {
            expectTyped(e, [E.InvalidRecord]);
          }
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

describe('sender-key functions on fuzzed input', () => {
  it(
    'should refuse fuzzed and re-signed group messages with typed errors and no store change',
    async () => {
      const { signing, messages, receiver } = await fixture();
      /** Field-level mutation of a message, re-signed with the genuine key, so only the chain logic can refuse it. */
      const resigned = fc.tuple(fc.constantFrom(...messages), fieldMutation).map(([m, f]) => {
        const body = mutateField(m.subarray(0, -64), f);
        return Uint8Array.of(...body, ...signing.sign(body));
      });
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc.tuple(fc.constantFrom(...messages), mutations).map(([m, ms]) => mutate(m, ms)),
        resigned,
      );
      await fc.assert(
        fc.asyncProperty(input, async (bytes) => {
          const before = receiver.snapshot();
          const writes = receiver.writes;
          try {
            await C.groupDecrypt(ALICE, receiver, bytes);
            // Accepted: only a genuine undelivered message (iterations 0, 2, 3) or a re-signed one that happens
            // to decrypt; either way the store was written once.
            expect(receiver.writes).toBe(writes + 1);
          } catch (e) {
            expectTyped(e, DECRYPT_ERRORS);
            expect(receiver.snapshot()).toBe(before);
            expect(receiver.writes).toBe(writes);
          }
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );

  it(
    'should refuse fuzzed distribution messages before touching the store',
    async () => {
      const { skdm, receiver } = await fixture();
      const valid = skdm.serialize();
      const input = fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        mutations.map((ms) => mutate(valid, ms)),
      );
      await fc.assert(
        fc.asyncProperty(input, async (bytes) => {
          const before = receiver.snapshot();
          const writes = receiver.writes;
          let parsed: C.SenderKeyDistributionMessage | null = null;
          try {
            parsed = C.SenderKeyDistributionMessage.deserialize(bytes);
          } catch (e) {
            expectTyped(e, PARSE_ERRORS);
            expect(receiver.snapshot()).toBe(before);
            expect(receiver.writes).toBe(writes);
          }
          if (parsed) {
            const scratch = new Store();
            await C.processSenderKeyDistributionMessage(ALICE, parsed, scratch);
            expect(scratch.writes).toBe(1);
          }
        }),
        { numRuns: RUNS },
      );
    },
    FUZZ_TIMEOUT_MS,
  );
});

/**
 * Secrets never print (issue 9, crypto finding 3): every exported type is classified as holding secret bytes or
 * not, and every secret holder is rendered every way a value reaches a log or a screen by accident (JSON, Node's
 * inspect at any depth with and without custom hooks, String(), template strings, util.format specifiers, a
 * console's log/dir/error) and searched for its secret bytes in hex, base64, base64url and as decimal lists.
 * A positive control proves the search finds each encoding.
 */
/* eslint-disable @typescript-eslint/no-base-to-string, @typescript-eslint/restrict-template-expressions -- turning secret holders into text by accident is exactly what this test does */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { Console } from 'node:console';
import { Writable } from 'node:stream';
import { format, inspect } from 'node:util';

import * as C from '../src/index.js';
import { xeddsaSigningKey } from '../src/primitives/xeddsa.js';
import type { SessionState } from '../src/ratchet/session-state.js';
import { Peer, UUIDS } from './support/session-fixture.js';

beforeAll(async () => {
  await C.ready();
});

/** Bytes per searched window: long enough that a chance match in a short rendering is impossible in practice. */
const WINDOW = 10;

/** Everything a console prints for `value`, through a real `Console` writing to memory. */
function consoleOutput(value: unknown): string {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      out += chunk.toString();
      done();
    },
  });
  const c = new Console({ stdout: sink, stderr: sink });
  c.log(value);
  c.log('%s | %o | %O | %j | %d', value, value, value, value, value);
  c.dir(value, { depth: Infinity, showHidden: true });
  c.error({ wrapped: [value] });
  c.table([{ value }]);
  return out;
}

/** Every accidental rendering of `value`. */
function renderings(value: object): Record<string, string> {
  const deep = { depth: Infinity, maxArrayLength: Infinity, maxStringLength: Infinity, breakLength: Infinity };
  return {
    'JSON.stringify': JSON.stringify(value),
    'JSON.stringify nested': JSON.stringify({ nested: [value] }),
    'JSON.stringify spread': JSON.stringify({ ...value }),
    inspect: inspect(value),
    'inspect depth Infinity, hidden': inspect(value, { ...deep, showHidden: true, getters: true }),
    'inspect without custom hooks': inspect(value, { ...deep, showHidden: true, getters: true, customInspect: false }),
    'inspect nested': inspect({ a: { b: [value] } }, deep),
    'inspect spread': inspect({ ...value }, { ...deep, showHidden: true }),
    'inspect own property names': inspect(
      Object.getOwnPropertyNames(value).map((k) => [k, Reflect.get(value, k)]),
      deep,
    ),
    'String()': String(value),
    'template string': `${value}`,
    'string concatenation': 'value: ' + value,
    'util.format': format('%s %o %O %j %i %d %f %c', value, value, value, value, value, value, value, value),
    'util.format plain': format(value, [value], { value }),
    console: consoleOutput(value),
  };
}

function windows(secret: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + WINDOW <= secret.length; i++) out.push(secret.subarray(i, i + WINDOW));
  return out;
}

/** The first encoding in which `text` shows any window of `secret`, or null. */
function leak(text: string, secret: Uint8Array): string | null {
  const lower = text.toLowerCase();
  const hexOnly = lower.replace(/[^0-9a-f]/g, '');
  const numbers = (text.match(/\d+/g) ?? []).map(Number);
  // Decimal lists as inspect and JSON arrays print them (stride 1), and as JSON prints a typed array's
  // { "0": b0, "1": b1, … } (stride 2, every other number).
  const lists = [numbers, numbers.filter((_, i) => i % 2 === 0), numbers.filter((_, i) => i % 2 === 1)].map(
    (l) => `,${l.join(',')},`,
  );
  for (const w of windows(secret)) {
    const hex = Buffer.from(w).toString('hex');
    if (lower.includes(hex) || hexOnly.includes(hex)) return 'hex';
    // Every start offset is tried, so one window lines up with any base64 grid the secret was encoded on.
    if (text.includes(Buffer.from(w.subarray(0, 9)).toString('base64'))) return 'base64';
    if (text.includes(Buffer.from(w.subarray(0, 9)).toString('base64url'))) return 'base64url';
    const decimal = `,${Array.from(w).join(',')},`;
    if (lists.some((l) => l.includes(decimal))) return 'decimal';
  }
  return null;
}

function expectNoLeak(value: object, secrets: readonly Uint8Array[]): void {
  expect(secrets.length).toBeGreaterThan(0);
  for (const [how, text] of Object.entries(renderings(value))) {
    for (const secret of secrets) {
      expect(secret.length).toBeGreaterThanOrEqual(WINDOW);
      const found = leak(text, secret);
      if (found !== null) throw new Error(`${how} of ${value.constructor.name} shows a secret in ${found}`);
    }
  }
}

/** The secret bytes of a private key: the scalar and XEdDSA's derived scalar mod L. */
function privateSecrets(k: C.PrivateKey): Uint8Array[] {
  const raw = k.serialize();
  return [raw, xeddsaSigningKey(raw).a];
}

/** Root, chain, ratchet and skipped-message secrets and the SPQR state of every state in a record. */
function sessionSecrets(record: C.SessionRecord): Uint8Array[] {
  const states = [record._currentState(), ...record._archivedStates()].filter((s): s is SessionState => s !== null);
  const out: Uint8Array[] = [];
  for (const s of states) {
    out.push(s.rootKey, s.senderChain.chainKey, ...privateSecrets(s.senderChain.ratchetPrivate));
    for (const c of s.receiverChains) out.push(c.chainKey, ...c.skipped.values());
    out.push(s.spqr.serialize());
  }
  return out;
}

/** Bob's record of Alice: a current and an archived state, skipped-message seeds, and SPQR past its start. */
async function busyRecord(): Promise<{ alice: Peer; bob: Peer; record: C.SessionRecord }> {
  const alice = new Peer(UUIDS[0]);
  const bob = new Peer(UUIDS[1]);
  await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
  await bob.decrypt(alice, await alice.encrypt(bob, 'first session'));
  await C.processPreKeyBundle(await bob.bundle(), bob.address, alice.address, alice.sessions, alice.identities);
  for (let i = 0; i < 6; i++) {
    await alice.encrypt(bob, `lost${i}`); // never delivered: Bob keeps a seed for it
    await bob.decrypt(alice, await alice.encrypt(bob, `a${i}`));
    await alice.decrypt(bob, await bob.encrypt(alice, `b${i}`));
  }
  const record = (await bob.sessions.getSession(alice.address))!;
  return { alice, bob, record };
}

/** Every exported class, by whether it holds secret bytes. A new export fails the test until it is placed. */
const SECRET_HOLDERS = [
  'PrivateKey',
  'IdentityKeyPair',
  'KEMSecretKey',
  'KEMKeyPair',
  'PreKeyRecord',
  'SignedPreKeyRecord',
  'KyberPreKeyRecord',
  'SessionRecord',
  'InMemorySessionStore',
  'InMemoryIdentityKeyStore',
  'InMemoryPreKeyStore',
  'InMemorySignedPreKeyStore',
  'InMemoryKyberPreKeyStore',
  'SenderKeyDistributionMessage',
  'SenderKeyRecord',
  'InMemorySenderKeyStore',
  'SealedSenderDecryptionResult',
];
const PUBLIC_ONLY = [
  'PublicKey',
  'KEMPublicKey',
  'ProtocolAddress',
  'PreKeyBundle',
  'CiphertextMessage',
  'SignalMessage',
  'PreKeySignalMessage',
  'Fingerprint',
  'DisplayableFingerprint',
  'ScannableFingerprint',
  'SignalClientError',
  'AttachmentError',
  'LibSignalErrorBase',
  'SessionStore',
  'IdentityKeyStore',
  'PreKeyStore',
  'SignedPreKeyStore',
  'KyberPreKeyStore',
  'SenderKeyMessage',
  'SenderKeyStore',
  'ServerCertificate',
  'SenderCertificate',
  'UnidentifiedSenderMessageContent',
  'SealedSenderMultiRecipientMessage',
];

describe('secrets never print', () => {
  it('classifies every exported class as a secret holder or public-only', () => {
    const classes = Object.entries(C)
      .filter(([name, v]) => typeof v === 'function' && /^[A-Z]/.test(name))
      .map(([name]) => name)
      .sort();
    expect(classes).toEqual([...SECRET_HOLDERS, ...PUBLIC_ONLY].sort());
  });

  it('finds secrets in every encoding it searches (positive control)', async () => {
    const secret = C.PrivateKey.generate().serialize();
    const blob = Uint8Array.of(7, ...secret, 9);
    for (const shift of [0, 1, 2]) {
      const b = blob.subarray(shift);
      expect(leak(`x ${Buffer.from(b).toString('base64')} y`, secret)).not.toBeNull();
      expect(leak(`x ${Buffer.from(b).toString('base64url')} y`, secret)).not.toBeNull();
    }
    expect(leak(Buffer.from(blob).toString('hex').toUpperCase(), secret)).toBe('hex');
    expect(leak(inspect(Buffer.from(blob)), secret)).toBe('hex');
    expect(leak(inspect(blob, { breakLength: 40 }), secret)).toBe('decimal');
    expect(leak(JSON.stringify(blob), secret)).toBe('decimal');
    expect(leak(JSON.stringify(Array.from(blob)), secret)).toBe('decimal');
    expect(leak(JSON.stringify({ key: C.PrivateKey.generate().getPublicKey() }), secret)).toBeNull();
    // The raw session state (internal, not a secret holder itself) does show its keys: the search works on it.
    const { record } = await busyRecord();
    const state = inspect(record._currentState(), { depth: Infinity, maxArrayLength: Infinity });
    expect(leak(state, record._currentState()!.rootKey)).toBe('decimal');
  });

  it('PrivateKey and IdentityKeyPair (after signing, so XEdDSA values are cached)', () => {
    const k = C.PrivateKey.generate();
    k.sign(Uint8Array.of(1));
    expectNoLeak(k, privateSecrets(k));
    const pair = C.IdentityKeyPair.generate();
    pair.privateKey.sign(Uint8Array.of(2));
    expectNoLeak(pair, privateSecrets(pair.privateKey));
    expect(inspect(pair)).toContain(Buffer.from(pair.publicKey.serialize()).toString('hex'));
    expect(JSON.stringify(pair)).toContain('[redacted]');
  });

  it('KEMSecretKey and KEMKeyPair', () => {
    const kp = C.KEMKeyPair.generate();
    const secret = kp.getSecretKey().serialize();
    expectNoLeak(kp.getSecretKey(), [secret]);
    expectNoLeak(kp, [secret]);
  });

  it('prekey records', () => {
    const k = C.PrivateKey.generate();
    const sig = C.IdentityKeyPair.generate().privateKey.sign(k.getPublicKey().serialize());
    const pre = C.PreKeyRecord.new(7, k.getPublicKey(), k);
    expectNoLeak(pre, privateSecrets(k));
    expectNoLeak(
      C.SignedPreKeyRecord.deserialize(C.SignedPreKeyRecord.new(8, 1, k.getPublicKey(), k, sig).serialize()),
      [k.serialize()],
    );
    const kem = C.KEMKeyPair.generate();
    expectNoLeak(C.KyberPreKeyRecord.new(9, 2, kem, sig), [kem.getSecretKey().serialize()]);
    expect(String(pre)).toBe('PreKeyRecord { id: 7, privateKey: [redacted] }');
  });

  it('SessionRecord, loaded and in use', async () => {
    const { record } = await busyRecord();
    expect(record._archivedStates().length).toBe(1);
    const secrets = sessionSecrets(record);
    expect(secrets.length).toBeGreaterThan(10);
    expectNoLeak(record, secrets);
    expectNoLeak(C.SessionRecord.deserialize(record.serialize()), secrets);
    expect(JSON.stringify(record)).toBe(
      '{"type":"SessionRecord","currentState":true,"archivedStates":1,"keys":"[redacted]"}',
    );
  });

  it('the in-memory stores', async () => {
    const { alice, bob, record } = await busyRecord();
    const sessions = new C.InMemorySessionStore();
    await sessions.saveSession(alice.address, record);
    expectNoLeak(sessions, sessionSecrets(record));
    const identities = new C.InMemoryIdentityKeyStore(bob.identity, 1);
    await identities.saveIdentity(alice.address, alice.identity.publicKey);
    expectNoLeak(identities, privateSecrets(bob.identity.privateKey));

    const k = C.PrivateKey.generate();
    const preKeys = new C.InMemoryPreKeyStore();
    await preKeys.savePreKey(1, C.PreKeyRecord.new(1, k.getPublicKey(), k));
    expectNoLeak(preKeys, [k.serialize()]);
    const signed = new C.InMemorySignedPreKeyStore();
    await signed.saveSignedPreKey(1, C.SignedPreKeyRecord.new(1, 0, k.getPublicKey(), k, new Uint8Array(64)));
    expectNoLeak(signed, [k.serialize()]);
    const kem = C.KEMKeyPair.generate();
    const kyber = new C.InMemoryKyberPreKeyStore();
    await kyber.saveKyberPreKey(1, C.KyberPreKeyRecord.new(1, 0, kem, new Uint8Array(64)));
    await kyber.markKyberPreKeyUsed(1, 1, k.getPublicKey());
    expectNoLeak(kyber, [kem.getSecretKey().serialize()]);
    expect(inspect(kyber)).toBe('InMemoryKyberPreKeyStore { kyberPreKeys: 1, usedBaseKeys: 1 }');
  });

  it('sender keys: our record, a received record with kept keys, distribution messages, the store', async () => {
    const alice = C.ProtocolAddress.new(UUIDS[0], 1);
    const dist = 'd1d1d1d1-7000-11eb-b32a-33b8a8a487a6';
    const ours = new C.InMemorySenderKeyStore();
    const skdm = await C.SenderKeyDistributionMessage.create(alice, dist, ours);
    const theirs = new C.InMemorySenderKeyStore();
    await C.processSenderKeyDistributionMessage(alice, skdm, theirs);
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 5; i++) sent.push((await C.groupEncrypt(alice, dist, ours, Uint8Array.of(i))).serialize());
    await C.groupDecrypt(alice, theirs, sent[4]!); // keeps four seeds
    const mine = (await ours.getSenderKey(alice, dist))!;
    const received = (await theirs.getSenderKey(alice, dist))!;
    const state = mine._currentState()!;
    const kept = received._currentState()!.messageKeys.map((k) => k.seed);
    expect(kept.length).toBe(4);
    const secrets = [skdm.chainKey(), state.chainKey, ...privateSecrets(state.signingPrivateKey!)];
    expectNoLeak(skdm, [skdm.chainKey()]);
    expectNoLeak(C.SenderKeyDistributionMessage.deserialize(skdm.serialize()), [skdm.chainKey()]);
    expectNoLeak(mine, secrets);
    expectNoLeak(received, [received._currentState()!.chainKey, ...kept]);
    expectNoLeak(ours, secrets);
    expectNoLeak(theirs, kept);
    expect(String(mine)).toBe('SenderKeyRecord { states: 1, keys: [redacted] }');
    expect(inspect(ours)).toBe('InMemorySenderKeyStore { senderKeys: 1 }');
    expect(JSON.stringify(skdm)).toContain('"chainKey":"[redacted]"');
    // A group message shows ids and a length, not its ciphertext.
    const m = C.SenderKeyMessage.deserialize(sent[0]!);
    expect(leak(inspect(m, { depth: Infinity }), m.ciphertext())).toBeNull();
  });

  it('SealedSenderDecryptionResult (the plaintext of a sealed message)', () => {
    const plaintext = crypto.getRandomValues(new Uint8Array(64));
    const result = new C.SealedSenderDecryptionResult(plaintext, {
      uuid: '0c0e1a2b-3c4d-4e5f-8a6b-000000000001',
      e164: null,
      deviceId: 2,
    });
    expectNoLeak(result, [plaintext]);
    expect(JSON.stringify(result)).toBe(
      '{"type":"SealedSenderDecryptionResult","senderUuid":"0c0e1a2b-3c4d-4e5f-8a6b-000000000001","deviceId":2,"message":"[redacted]"}',
    );
    expect(Buffer.from(result.message()).equals(Buffer.from(plaintext))).toBe(true);
  });
});

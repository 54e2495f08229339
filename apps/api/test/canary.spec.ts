/**
 * The canary test: two libsignal clients run a real PQXDH + Double Ratchet exchange through the server (bundle
 * fetch, WebSocket send, live delivery, ack). Afterwards no table, log line or metric holds the canary plaintext,
 * a private key or a device secret in any encoding: the server only ever saw public keys, hashes and ciphertext.
 */
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import * as signal from '@signalapp/libsignal-client';

import { request, scrapeMetrics, startServer, TestDevice, TestIdentity, type TestServer } from './support/harness.js';
import { MemoryStores } from './support/signal-stores.js';

const CANARY = `canary-${randomBytes(8).toString('hex')}-plaintext`;
const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Every way a secret could show up in text: raw UTF-8, hex, base64, base64url. */
function encodings(bytes: Uint8Array): string[] {
  const buf = Buffer.from(bytes);
  return [buf.toString('hex'), buf.toString('base64').replace(/=+$/, ''), buf.toString('base64url')];
}

type Party = { device: TestDevice; stores: MemoryStores; secrets: Uint8Array[] };

async function registerParty(server: TestServer): Promise<Party> {
  const identity = new TestIdentity();
  const registrationId = 1 + (randomBytes(2).readUInt16BE() % 16000);
  const stores = new MemoryStores(identity.identity, registrationId);
  const sign = (bytes: Uint8Array) => identity.identity.privateKey.sign(bytes as Uint8Array<ArrayBuffer>);
  const signedPriv = signal.PrivateKey.generate();
  const signedPub = signedPriv.getPublicKey();
  const signedSig = sign(signedPub.serialize());
  await stores.signedPreKeyStore.saveSignedPreKey(
    1,
    signal.SignedPreKeyRecord.new(1, Date.now(), signedPub, signedPriv, signedSig),
  );
  const kyber = signal.KEMKeyPair.generate();
  const kyberSig = sign(kyber.getPublicKey().serialize());
  await stores.kyberPreKeyStore.saveKyberPreKey(1, signal.KyberPreKeyRecord.new(1, Date.now(), kyber, kyberSig));
  const lastResort = signal.KEMKeyPair.generate();
  const lastResortSig = sign(lastResort.getPublicKey().serialize());
  await stores.kyberPreKeyStore.saveKyberPreKey(
    2,
    signal.KyberPreKeyRecord.new(2, Date.now(), lastResort, lastResortSig),
  );
  const pre = signal.PrivateKey.generate();
  await stores.preKeyStore.savePreKey(1, signal.PreKeyRecord.new(1, pre.getPublicKey(), pre));
  const secret = randomBytes(32);
  const res = await request<{ accountId: string }>(server, 'POST', '/v1/accounts', {
    secret: b64(secret),
    registrationId,
    identityKey: identity.identityKey,
    signedPreKey: { keyId: 1, publicKey: b64(signedPub.serialize()), signature: b64(signedSig) },
    kyberLastResortPreKey: {
      keyId: 2,
      publicKey: b64(lastResort.getPublicKey().serialize()),
      signature: b64(lastResortSig),
    },
    preKeys: [{ keyId: 1, publicKey: b64(pre.getPublicKey().serialize()) }],
    kyberPreKeys: [{ keyId: 1, publicKey: b64(kyber.getPublicKey().serialize()), signature: b64(kyberSig) }],
  });
  expect(res.status).toBe(201);
  const device = new TestDevice(server, res.body.accountId, 1, b64(secret), registrationId, identity);
  const secrets = [
    secret,
    identity.identity.privateKey.serialize(),
    signedPriv.serialize(),
    pre.serialize(),
    kyber.getSecretKey().serialize(),
    lastResort.getSecretKey().serialize(),
  ];
  return { device, stores, secrets };
}

describe('canary', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer('postgres', { LOG_LEVEL: 'debug' });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  }, 60_000);

  it('should keep no plaintext, private key or secret in tables, logs or metrics after an exchange', async () => {
    const alice = await registerParty(server);
    const bob = await registerParty(server);
    const aliceAddress = signal.ProtocolAddress.new(alice.device.accountId, 1);
    const bobAddress = signal.ProtocolAddress.new(bob.device.accountId, 1);

    const bundle = await alice.device.request('GET', `/v1/keys/${bob.device.accountId}/1`);
    expect(bundle.status).toBe(200);
    const d = bundle.body.devices[0];
    const bytes = (s: string) => Buffer.from(s, 'base64') as unknown as Uint8Array<ArrayBuffer>;
    await signal.processPreKeyBundle(
      signal.PreKeyBundle.new(
        d.registrationId,
        d.deviceId,
        d.preKey.keyId,
        signal.PublicKey.deserialize(bytes(d.preKey.publicKey)),
        d.signedPreKey.keyId,
        signal.PublicKey.deserialize(bytes(d.signedPreKey.publicKey)),
        bytes(d.signedPreKey.signature),
        signal.PublicKey.deserialize(bytes(bundle.body.identityKey)),
        d.kyberPreKey.keyId,
        signal.KEMPublicKey.deserialize(bytes(d.kyberPreKey.publicKey)),
        bytes(d.kyberPreKey.signature),
      ),
      bobAddress,
      aliceAddress,
      alice.stores.sessionStore,
      alice.stores.identityStore,
    );
    const ciphertext = await signal.signalEncrypt(
      Buffer.from(CANARY),
      bobAddress,
      aliceAddress,
      alice.stores.sessionStore,
      alice.stores.identityStore,
    );
    expect(ciphertext.type()).toBe(signal.CiphertextMessageType.PreKey);

    const bobSocket = await bob.device.connect();
    await bobSocket.drain();
    const aliceSocket = await alice.device.connect();
    await aliceSocket.drain();
    aliceSocket.sendJson({
      type: 'send',
      id: 1,
      destination: bob.device.accountId,
      message: {
        timestamp: Date.now(),
        messages: [
          {
            destinationDeviceId: 1,
            destinationRegistrationId: bob.device.registrationId,
            type: 'prekey',
            content: b64(ciphertext.serialize()),
          },
        ],
      },
    });
    expect(await aliceSocket.next()).toMatchObject({ type: 'result', id: 1, status: 200 });
    const frame = await bobSocket.next();
    expect(frame.type).toBe('envelope');

    // The row exists (durably stored) while unacknowledged, and holds only ciphertext.
    const stored = await dumpDatabase(server);
    expect(stored).toContain(Buffer.from(frame.envelope.content, 'base64').toString('hex').slice(0, 64));

    const plaintext = await signal.signalDecryptPreKey(
      signal.PreKeySignalMessage.deserialize(bytes(frame.envelope.content)),
      aliceAddress,
      bobAddress,
      bob.stores.sessionStore,
      bob.stores.identityStore,
      bob.stores.preKeyStore,
      bob.stores.signedPreKeyStore,
      bob.stores.kyberPreKeyStore,
    );
    expect(Buffer.from(plaintext).toString()).toBe(CANARY);
    bobSocket.sendJson({ type: 'ack', guids: [frame.envelope.guid] });
    bobSocket.sendJson({ type: 'ping' });
    await bobSocket.next();
    aliceSocket.close();
    bobSocket.close();

    const metrics = await scrapeMetrics(server);
    const haystacks = {
      database: await dumpDatabase(server),
      logs: server.logs.join('\n'),
      metrics,
    };
    expect(haystacks.logs.length).toBeGreaterThan(0);
    const needles: Array<[string, string]> = [
      ['canary', CANARY],
      ...encodings(Buffer.from(CANARY)).map((e): [string, string] => ['canary', e]),
    ];
    for (const party of [alice, bob]) {
      for (const secret of party.secrets) for (const e of encodings(secret)) needles.push(['secret', e]);
    }
    for (const [where, text] of Object.entries(haystacks)) {
      const lower = text.toLowerCase();
      for (const [kind, needle] of needles) {
        if (lower.includes(needle.toLowerCase())) throw new Error(`${kind} found in ${where}`);
      }
    }
  });
});

/** Every row of every table as text (bytea as hex). */
async function dumpDatabase(server: TestServer): Promise<string> {
  const tables = await server.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'",
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await server.query<{ row: string }>(`SELECT t::text AS row FROM "${table_name}" t`);
    parts.push(...rows.map((r) => r.row));
  }
  return parts.join('\n');
}

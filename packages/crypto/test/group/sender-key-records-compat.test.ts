/**
 * Sender-key records saved by record format version 1 (fixtures/sender-key-records-v1.json, written by
 * fixtures/generate-sender-key-fixture.ts) must keep loading byte for byte, decrypting the messages saved with
 * them (a kept skipped key, the next message, a message on an older chain), and sending on the saved chain.
 */
import { readFileSync } from 'node:fs';

import { beforeAll, describe, expect, it } from '@jest/globals';

import * as C from '../../src/index.js';

interface Fixture {
  distributionId: string;
  senderRecord: string;
  receiverRecord: string;
  skippedMessage: string;
  pendingMessage: string;
  oldChainMessage: string;
}

const fx = JSON.parse(
  readFileSync(new URL('./fixtures/sender-key-records-v1.json', import.meta.url), 'utf8'),
) as Fixture;
const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const str = (x: Uint8Array): string => new TextDecoder().decode(x);
const ALICE = C.ProtocolAddress.new('9d0652a3-dcc3-4d11-975f-74d61598733f', 1);

beforeAll(async () => {
  await C.ready();
});

describe('sender-key records saved by format version 1', () => {
  it('should load and re-serialize byte for byte', () => {
    for (const r of [fx.senderRecord, fx.receiverRecord])
      expect(C.SenderKeyRecord.deserialize(b(r)).serialize()).toEqual(b(r));
  });

  it('should decrypt the saved messages and keep sending on the saved chain', async () => {
    const receiver = new C.InMemorySenderKeyStore();
    await receiver.saveSenderKey(ALICE, fx.distributionId, C.SenderKeyRecord.deserialize(b(fx.receiverRecord)));
    expect(str(await C.groupDecrypt(ALICE, receiver, b(fx.pendingMessage)))).toBe('pending');
    expect(str(await C.groupDecrypt(ALICE, receiver, b(fx.skippedMessage)))).toBe('skipped');
    expect(str(await C.groupDecrypt(ALICE, receiver, b(fx.oldChainMessage)))).toBe('old chain');
    const sender = new C.InMemorySenderKeyStore();
    await sender.saveSenderKey(ALICE, fx.distributionId, C.SenderKeyRecord.deserialize(b(fx.senderRecord)));
    const next = await C.groupEncrypt(ALICE, fx.distributionId, sender, new TextEncoder().encode('after upgrade'));
    expect(str(await C.groupDecrypt(ALICE, receiver, next.serialize()))).toBe('after upgrade');
  });
});

/**
 * Sealed sender's rules end to end, on a real server process (PostgreSQL) whose trust root the test knows (so it can
 * play a malicious server or a certificate thief), with Node clients running the messenger core, the `cove` CLI and
 * a hand-driven Signal device (test/support/raw-device.ts) as the attacker.
 *
 * Who may send sealed: under "contacts" (the default) a stranger's sealed try is refused `401`, its client sends the
 * same message identified at once and remembers, and it lands in the recipient's message requests; a device of the
 * recipient switches to "anyone" (core API), the other device learns it at its next upkeep, a new stranger's message
 * then goes sealed (no trace of the sender in the stored envelope) and still lands in requests, and the first stranger
 * tries sealed again once his refusal is a day old; `cove settings sealed`
 * reads and switches it back, after which sealed tries without the key are refused again.
 *
 * Forgeries, each refused by the receiver with nothing changed (no message, no contact, no identity stored): a sealed
 * PreKey message whose certificate names another identity key than the message carries; a sealed whisper message
 * under a certificate (forged with the trust root) naming another key than the session's; a sealed sent-transcript
 * (SyncMessage) from another account's device. And our own devices' copies: sent transcripts to a linked device never
 * go sealed and arrive identified from the sending device, while the same message goes sealed to the contact.
 *
 * Four ways at the CLI level: two `cove` clients (run in process) chat sealed both ways once their profile keys have
 * crossed, the hand-driven device sends one of them a sealed message it opens, and receives a sealed one from it and
 * opens it; each time, what waits on the server for the offline recipient names no sender.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { constants } from '@cove/client';
import type { HttpRequest, HttpTransport, MessengerEvent } from '@cove/client';
import { fetchTransport } from '@cove/client/node';
import { IdentityKeyPair, PrivateKey, SenderCertificate, ServerCertificate } from '@cove/crypto';
import { encodeContent, toBase64 } from '@cove/protocol';

import { destroyClient, newClient, openClient, stopClient, texts, transcript, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { main } from '../../packages/client/src/node/cli/main.js';
import { cove, ensureCliBuilt } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(600_000);

/** The server's trust root, known to the test: it stands for a malicious server (or a thief of its key). */
const trustRoot = PrivateKey.generate();

/** An HTTP transport that records every send (`PUT /v1/messages/...`) with the headers it carried. */
const recording = (): { http: HttpTransport; sends: HttpRequest[] } => {
  const sends: HttpRequest[] = [];
  return {
    sends,
    http: {
      request: (request) => {
        if (request.method === 'PUT' && new URL(request.url).pathname.startsWith('/v1/messages/')) sends.push(request);
        return fetchTransport.request(request);
      },
    },
  };
};
const kinds = (sends: HttpRequest[], to: string): string[] =>
  sends
    .filter((r) => r.url.endsWith(`/v1/messages/${to}`))
    .map((r) => (r.headers.authorization ? 'identified' : r.headers['unidentified-access-key'] ? 'sealed' : '?'));

let server: TestServer;
const clients: TestClient[] = [];

beforeAll(async () => {
  await ensureCliBuilt();
  server = await startTestServer({
    env: { SEALED_SENDER_TRUST_ROOT_PRIVATE_KEY: toBase64(trustRoot.serialize()) },
  });
}, 300_000);

afterAll(async () => {
  for (const client of clients) await destroyClient(client);
  await server?.close();
});

/** Every stored envelope row of an account, every column as text, and its source columns. */
const storedFor = (accountId: string) =>
  server.query<{ row: string; source_account_id: string | null; source_device_id: number | null; type: string }>(
    `SELECT row_to_json(e)::text AS row, source_account_id, source_device_id, type FROM envelopes e
     WHERE account_id = $1::uuid ORDER BY id`,
    [accountId],
  );
const mentions = (text: string, accountId: string): boolean =>
  text.toLowerCase().includes(accountId) || text.toLowerCase().includes(accountId.replace(/-/g, ''));

const client = async (username: string, http?: HttpTransport): Promise<TestClient> => {
  const made = await newClient(server.url, username, { oneTimePreKeys: 3, ...(http ? { http } : {}) });
  clients.push(made);
  return made;
};

/** Links an empty client to `primary`'s account through the Messenger API. */
const linkTo = async (primary: TestClient, name: string): Promise<TestClient> => {
  const linked = await openClient(name, await mkdtemp(join(tmpdir(), `cove-sealed-${name}-`)));
  clients.push(linked);
  const account = await linked.messenger.linkNewDevice({
    serverUrl: server.url,
    oneTimePreKeys: 2,
    onLinkUri: (uri) => {
      void primary.messenger.addDevice(uri);
    },
  });
  linked.accountId = account.accountId;
  return linked;
};

const isRequest = async (owner: TestClient, peer: string): Promise<boolean | undefined> =>
  (await owner.messenger.conversations()).find((c) => c.peerAccountId === peer)?.request;

describe('who may send sealed messages', () => {
  it('should refuse strangers under "contacts", take them under "anyone", and follow the setting on every device', async () => {
    const hal = await client('rules_hal');
    const hal2 = await linkTo(hal, 'rules_hal2');
    const gilWire = recording();
    const gil = await client('rules_gil', gilWire.http);

    // Default: contacts only, on both devices.
    expect(await hal.messenger.sealedSenderSetting({ refresh: true })).toBe('contacts');
    expect(await hal2.messenger.sealedSenderSetting({ refresh: true })).toBe('contacts');

    // A stranger (no key of Hal's) tries sealed, is refused, and sends the same message identified at once.
    await gil.messenger.sendText('rules_hal', 'hello from a stranger');
    await gil.messenger.flushOutbox();
    expect(kinds(gilWire.sends, hal.accountId)).toEqual(['sealed', 'identified']);
    const named = await storedFor(hal.accountId);
    expect(named.length).toBeGreaterThan(0);
    expect(named.every((r) => r.source_account_id === gil.accountId && r.type !== 'unidentified-sender')).toBe(true);
    await hal.messenger.fetchPending();
    expect(await texts(hal, gil.accountId, 'incoming')).toEqual(['hello from a stranger']);
    expect(await isRequest(hal, gil.accountId)).toBe(true);
    // Remembered: the next one goes identified straight away.
    await gil.messenger.sendText('rules_hal', 'again');
    await gil.messenger.flushOutbox();
    expect(kinds(gilWire.sends, hal.accountId)).toEqual(['sealed', 'identified', 'identified']);
    await hal.messenger.fetchPending();
    await hal2.messenger.fetchPending();
    /** What waits for Hal from others (his devices' messages to each other are identified, by design). */
    const fromOthers = async () =>
      (await storedFor(hal.accountId)).filter((r) => r.source_account_id !== hal.accountId);
    expect(await fromOthers()).toEqual([]);

    // Hal's second device opens up to anyone; the first learns it at its next upkeep, with an event.
    await hal2.messenger.setSealedSenderSetting('anyone');
    expect(await hal2.messenger.sealedSenderSetting()).toBe('anyone');
    expect(await hal.messenger.sealedSenderSetting()).toBe('contacts');
    await hal.messenger.upkeep();
    expect(await hal.messenger.sealedSenderSetting()).toBe('anyone');
    expect(
      hal.events.some((e: MessengerEvent) => e.type === 'account-settings-updated' && e.sealedSender === 'anyone'),
    ).toBe(true);

    // A new stranger now goes sealed on the first try: the server stores no trace of her, Hal still sees a request.
    const ivyWire = recording();
    const ivy = await client('rules_ivy', ivyWire.http);
    await ivy.messenger.sendText('rules_hal', 'sealed, though we never met');
    await ivy.messenger.flushOutbox();
    expect(kinds(ivyWire.sends, hal.accountId)).toEqual(['sealed']);
    // One envelope for each of Hal's devices, none of them naming Ivy in any column.
    const sealed = await fromOthers();
    expect(sealed).toHaveLength(2);
    for (const row of sealed) {
      expect(row).toMatchObject({ source_account_id: null, source_device_id: null, type: 'unidentified-sender' });
      expect(mentions(row.row, ivy.accountId)).toBe(false);
    }
    await hal.messenger.fetchPending();
    expect(await texts(hal, ivy.accountId, 'incoming')).toEqual(['sealed, though we never met']);
    expect((await hal.messenger.messages(ivy.accountId)).messages[0]?.authorAccountId).toBe(ivy.accountId);
    expect(await isRequest(hal, ivy.accountId)).toBe(true);

    // Gil's refusal holds for a day; once it is that old (aged here in his storage) he tries sealed again, and Hal,
    // open to anyone now, takes it.
    await gil.messenger.sendText('rules_hal', 'still identified');
    await gil.messenger.flushOutbox();
    expect(kinds(gilWire.sends, hal.accountId)).toEqual(['sealed', 'identified', 'identified', 'identified']);
    await gil.platform.storage.commit([
      {
        op: 'put',
        table: 'meta',
        key: `sealed/probe-denied/${hal.accountId}`,
        value: Date.now() - constants.SEALED_PROBE_RETRY_MS - 60_000,
      },
    ]);
    await gil.messenger.sendText('rules_hal', 'a day later');
    await gil.messenger.flushOutbox();
    expect(kinds(gilWire.sends, hal.accountId)).toEqual(['sealed', 'identified', 'identified', 'identified', 'sealed']);
    await hal.messenger.fetchPending();
    expect(await texts(hal, gil.accountId, 'incoming')).toEqual([
      'hello from a stranger',
      'again',
      'still identified',
      'a day later',
    ]);

    // The CLI on the second device reads it and closes it again; a value other than the two is a usage error.
    await stopClient(hal2);
    const shown = await cove(hal2.dataDir, ['settings', 'sealed'], { json: true });
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.lines.at(-1) ?? '{}')).toEqual({ type: 'settings', sealedSender: 'anyone' });
    const closed = await cove(hal2.dataDir, ['settings', 'sealed', 'contacts'], { json: true });
    expect(closed.code).toBe(0);
    expect(JSON.parse(closed.lines.at(-1) ?? '{}')).toEqual({ type: 'settings', sealedSender: 'contacts' });
    const wrong = await cove(hal2.dataDir, ['settings', 'sealed', 'everyone']);
    expect(wrong.code).toBe(2);
    expect(await hal.messenger.sealedSenderSetting({ refresh: true })).toBe('contacts');

    // Ivy still holds no key of Hal's (he never answered): her next sealed try is refused, and it goes identified.
    await ivy.messenger.sendText('rules_hal', 'and now?');
    await ivy.messenger.flushOutbox();
    expect(kinds(ivyWire.sends, hal.accountId)).toEqual(['sealed', 'sealed', 'identified']);
    await hal.messenger.fetchPending();
    expect(await texts(hal, ivy.accountId, 'incoming')).toEqual(['sealed, though we never met', 'and now?']);
  });
});

describe('forged sealed envelopes and our own devices', () => {
  let jo: TestClient;
  let joWire: ReturnType<typeof recording>;
  let mal: RawDevice;

  beforeAll(async () => {
    joWire = recording();
    jo = await client('rules_jo', joWire.http);
    mal = await RawDevice.register(server.url, 'rules_mal');
    // Jo accepts sealed messages from anyone, so the server lets every forgery below through to her device.
    await jo.messenger.setSealedSenderSetting('anyone');
  }, 300_000);

  /** Jo's view of Mal: no contact, no conversation, no identity key, no message. */
  const untouched = async (): Promise<void> => {
    expect(await jo.platform.storage.get('contacts', mal.accountId)).toBeUndefined();
    expect((await jo.messenger.conversations()).some((c) => c.peerAccountId === mal.accountId)).toBe(false);
    expect(await texts(jo, mal.accountId, 'incoming')).toEqual([]);
  };
  const anyKey = toBase64(new Uint8Array(16));
  const text = (body: string): Uint8Array =>
    encodeContent({ kind: 'data', data: { text: body, timestamp: Date.now() } });

  it('should refuse a sealed PreKey message whose certificate names another identity key than it carries', async () => {
    const certificate = await mal.senderCertificate();
    const sent = await mal.sendSealed(jo.accountId, text('under a borrowed name'), {
      certificate,
      accessKey: anyKey,
      innerIdentity: IdentityKeyPair.generate(),
    });
    expect(sent.status).toBe(200);
    expect(sent.types).toEqual(['prekey']);
    const sessionsBefore = (await jo.platform.storage.list('sessions')).map((e) => e.key);
    expect(await jo.messenger.fetchPending()).toEqual(['ignored']);
    await untouched();
    expect((await jo.platform.storage.list('sessions')).map((e) => e.key)).toEqual(sessionsBefore);
  });

  it('should refuse a sealed whisper message under a certificate naming another key than the session', async () => {
    // A genuine first message (identified) gives Jo a session with Mal under Mal's real identity key.
    expect((await mal.send(jo.accountId, text('a genuine hello'))).status).toBe(200);
    expect(await jo.messenger.fetchPending()).toEqual(['stored']);
    expect(await texts(jo, mal.accountId, 'incoming')).toEqual(['a genuine hello']);
    // Jo answers, so Mal's side of the session moves on from PreKey messages to whisper messages.
    await jo.messenger.sendText(mal.accountId, 'who is this?');
    await jo.messenger.flushOutbox();
    expect((await mal.receive()).some((r) => r.content?.kind === 'data')).toBe(true);
    const identityBefore = await jo.messenger.identity(mal.accountId);

    // The trust root's holder signs a certificate for Mal's account and device with another key, and seals the next
    // message of that very session under it.
    const serverKey = PrivateKey.generate();
    const server = ServerCertificate.new(1, serverKey.getPublicKey(), trustRoot);
    const impostor = IdentityKeyPair.generate();
    const forged = SenderCertificate.new(
      mal.accountId,
      null,
      mal.deviceId,
      impostor.publicKey,
      Date.now() + 3600_000,
      server,
      serverKey,
    );
    const sent = await mal.sendSealed(jo.accountId, text('the session, another name'), {
      certificate: forged,
      accessKey: anyKey,
      sealingIdentity: impostor,
    });
    expect(sent.status).toBe(200);
    expect(sent.types).toEqual(['whisper']);
    expect(await jo.messenger.fetchPending()).toEqual(['ignored']);
    expect(await texts(jo, mal.accountId, 'incoming')).toEqual(['a genuine hello']);
    const identityAfter = await jo.messenger.identity(mal.accountId);
    expect(identityAfter.safetyNumber?.digits).toBe(identityBefore.safetyNumber?.digits);
    expect(identityAfter.trust).toBe(identityBefore.trust);

    // The session did not move: Mal's next genuine message, sealed under his own certificate, is read.
    const genuine = await mal.sendSealed(jo.accountId, text('still me'), {
      certificate: await mal.senderCertificate(),
      accessKey: anyKey,
    });
    expect(genuine.status).toBe(200);
    expect(await jo.messenger.fetchPending()).toEqual(['stored']);
    expect(await texts(jo, mal.accountId, 'incoming')).toEqual(['a genuine hello', 'still me']);
  });

  it("should refuse a sealed sent transcript from another account's device", async () => {
    const before = jo.events.length;
    const forged = encodeContent({
      kind: 'sync',
      sync: {
        type: 'sent',
        destinationAccountId: mal.accountId,
        message: { text: 'I never wrote this', timestamp: Date.now() },
      },
    });
    const sent = await mal.sendSealed(jo.accountId, forged, {
      certificate: await mal.senderCertificate(),
      accessKey: anyKey,
    });
    expect(sent.status).toBe(200);
    await jo.messenger.fetchPending();
    expect(
      jo.events
        .slice(before)
        .some((e) => e.type === 'message-rejected' && e.accountId === mal.accountId && e.reason === 'sync_refused'),
    ).toBe(true);
    expect((await transcript(jo, mal.accountId)).some((m) => m.text === 'I never wrote this')).toBe(false);
  });

  it('should send our own devices identified transcripts while the contact gets the message sealed', async () => {
    const jo2 = await linkTo(jo, 'rules_jo2');
    // Jo learns of her new device at her next upkeep (every connect runs one).
    await jo.messenger.upkeep();
    const kit = await client('rules_kit');
    // Kit writes first (his profile key reaches Jo), Jo accepts: Jo now holds Kit's access key.
    await kit.messenger.sendText('rules_jo', 'hi Jo');
    await kit.messenger.flushOutbox();
    await jo.messenger.fetchPending();
    await jo.messenger.accept(kit.accountId);
    expect(await jo.messenger.accessKeyFor(kit.accountId)).toBeInstanceOf(Uint8Array);
    await jo2.messenger.fetchPending();

    const before = joWire.sends.length;
    await jo.messenger.sendText('rules_kit', 'sealed to Kit, plain to my laptop');
    await jo.messenger.flushOutbox();
    const fresh = joWire.sends.slice(before);
    expect(kinds(fresh, kit.accountId).length).toBeGreaterThan(0);
    expect(kinds(fresh, kit.accountId).every((k) => k === 'sealed')).toBe(true);
    expect(kinds(fresh, jo.accountId).length).toBeGreaterThan(0);
    expect(kinds(fresh, jo.accountId).every((k) => k === 'identified')).toBe(true);
    const own = await storedFor(jo.accountId);
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((r) => r.source_account_id === jo.accountId && r.type !== 'unidentified-sender')).toBe(true);
    expect(own.some((r) => r.source_device_id === 1)).toBe(true);
    await jo2.messenger.fetchPending();
    await until('the laptop shows the transcript', async () =>
      (await transcript(jo2, kit.accountId)).some(
        (m) => m.direction === 'outgoing' && m.text === 'sealed to Kit, plain to my laptop',
      ),
    );
    await kit.messenger.fetchPending();
    expect(await texts(kit, jo.accountId, 'incoming')).toEqual(['sealed to Kit, plain to my laptop']);
  });
});

describe('four ways: two CLI clients and a hand-driven Signal device', () => {
  it('should chat sealed CLI to CLI, device to CLI and CLI to device, naming no sender on the server', async () => {
    const root = await mkdtemp(join(tmpdir(), 'cove-sealed-cli-'));
    const dirA = join(root, 'a');
    const dirB = join(root, 'b');
    /** Runs one CLI command in this process (`--json`); its exit code and the JSON lines it printed. */
    const run = async (dir: string, args: string[]) => {
      const lines: string[] = [];
      const code = await main(['node', 'cove', '--data', dir, '--json', ...args], {
        out: (line) => lines.push(line),
        err: (line) => lines.push(line),
        stopSignal: () => new Promise(() => undefined),
      });
      const printed = lines.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
      return { code, printed };
    };
    const received = async (dir: string): Promise<{ text: unknown; author: unknown }[]> => {
      const { code, printed } = await run(dir, ['listen', '--exit-when-idle']);
      expect(code).toBe(0);
      return printed
        .filter((e) => e.type === 'message' && e.direction === 'incoming')
        .map((e) => ({ text: e.text, author: e.author }));
    };
    /** What waits for an account from anyone else: sealed, no sender, no mention of `sender` in any column. */
    const waitsSealed = async (accountId: string, sender: string): Promise<void> => {
      const rows = (await storedFor(accountId)).filter((r) => r.source_account_id !== accountId);
      expect(rows.length).toBeGreaterThan(0);
      for (const row of rows) {
        expect(row).toMatchObject({ source_account_id: null, source_device_id: null, type: 'unidentified-sender' });
        expect(mentions(row.row, sender)).toBe(false);
      }
    };

    expect((await run(dirA, ['register', '--server', server.url, '--username', 'four_a'])).code).toBe(0);
    expect((await run(dirB, ['register', '--server', server.url, '--username', 'four_b'])).code).toBe(0);
    const idOf = async (dir: string): Promise<string> =>
      String((await run(dir, ['whoami'])).printed.find((e) => typeof e.accountId === 'string')?.accountId);
    const a = await idOf(dirA);
    const b = await idOf(dirB);

    // A's first message carries her profile key (identified: B takes sealed messages from contacts only).
    expect((await run(dirA, ['send', 'four_b', 'one'])).code).toBe(0);
    expect(await received(dirB)).toEqual([{ text: 'one', author: a }]);
    // B holds A's key now: his reply waits sealed for her, and carries his key.
    expect((await run(dirB, ['send', 'four_a', 'two'])).code).toBe(0);
    await waitsSealed(a, b);
    expect(await received(dirA)).toEqual([{ text: 'two', author: b }]);
    expect((await run(dirA, ['send', 'four_b', 'three'])).code).toBe(0);
    await waitsSealed(b, a);
    expect(await received(dirB)).toEqual([{ text: 'three', author: a }]);

    // The hand-driven device: A opens up to anyone, so its sealed message (no key of hers) is taken and opened.
    const raw = await RawDevice.register(server.url, 'four_raw');
    expect((await run(dirA, ['settings', 'sealed', 'anyone'])).printed).toContainEqual({
      type: 'settings',
      sealedSender: 'anyone',
    });
    // The device takes sealed messages from anyone too (its own attribute call), so what A sends it, receipts
    // included, goes sealed although she holds no key of its.
    const opened = await fetch(`${server.url}/v1/accounts/attributes`, {
      method: 'PUT',
      headers: {
        authorization: RawDevice.basic(raw.accountId, raw.deviceId, raw.secret),
        'content-type': 'application/json',
      },
      body: JSON.stringify({ unrestrictedUnidentifiedAccess: true }),
    });
    expect(opened.status).toBe(204);
    const sent = await raw.sendSealed(
      a,
      encodeContent({ kind: 'data', data: { text: 'four', timestamp: Date.now() } }),
      { certificate: await raw.senderCertificate(), accessKey: toBase64(new Uint8Array(16)) },
    );
    expect(sent.status).toBe(200);
    await waitsSealed(a, raw.accountId);
    expect(await received(dirA)).toEqual([{ text: 'four', author: raw.accountId }]);

    expect((await run(dirA, ['send', raw.accountId, 'five'])).code).toBe(0);
    await waitsSealed(raw.accountId, a);
    const got = await raw.receive();
    const five = got.find((r) => r.content?.kind === 'data' && r.content.data.text === 'five');
    expect(five?.envelope.type).toBe('unidentified-sender');
    expect(five?.source).toEqual({ accountId: a, deviceId: 1 });
    await rm(root, { recursive: true, force: true });
  });
});

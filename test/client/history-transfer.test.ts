/**
 * History transfer when linking, on a real server with an organization (the owner bootstrapped through the admin
 * socket, an admin the owner certified): a CLI primary links a new CLI device with `cove devices link URI
 * --history`, and the new device's `cove history --json` lists the conversation from before it existed (both
 * directions, the reaction, the order) and `cove history notices --json` the admin's notice with its sender, and an
 * in-process link gets its direct and group conversations and the notice — stored as builds before this one did,
 * without its certificate, so the archive carries the sender's current one — (the group state following with the
 * full sync). Then the attacks, on that linked device, which already holds history: an archive whose digest does not
 * match, one larger than the bound or shorter than the blob, malformed JSON, another account's archive, messages
 * claiming another conversation or the wrong author, a notice outside the notices, a plain message inside them, a
 * notice "from" this account as incoming, a notice with a quote and one whose certificate is a byte long are all
 * refused with `history_refused` and change nothing stored; notices whose certificate is a member's, another key's
 * or another account's are dropped and counted while a genuine one imports; the same archive twice imports nothing
 * twice.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import { encryptAttachment, generateOrganizationKey, signRoleCertificate } from '@cove/crypto';
import { MAX_HISTORY_ARCHIVE_BYTES, toBase64 } from '@cove/protocol';
import type { ArchivedMessage, HistoryArchive, HistoryArchivePointer } from '@cove/protocol';
import type { HistoryTransferProgress } from '@cove/client';

import { answer } from '../../apps/api/test/support/admin-socket.js';
import type { TestClient } from '../support/clients.js';
import { destroyClient, newClient, openClient, texts, transcript, until } from '../support/clients.js';
import { cove, ensureCliBuilt, start } from '../support/cli.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

/** Real processes on a shared 2-core machine: generous per-test limits (never a timing assertion). */
jest.setTimeout(180_000);

const utf8 = new TextEncoder();

describe('history transfer when linking', () => {
  let server: TestServer;
  let bob: TestClient;
  let carol: TestClient;
  let dave: TestClient;
  let tablet: TestClient;
  /** The organization's owner (registered with the owner invite: it holds the organization key) and an admin. */
  let owner: TestClient;
  let admin: TestClient;
  /** The CLI member's data directory. */
  let alice: string;
  const clients: TestClient[] = [];
  const NOTICE = 'Office closed on Friday';

  /** Encrypts `plaintext` as an attachment and uploads it with tus as `client`'s device; returns its pointer. */
  /** The client's device credentials as the server's Basic authorization. */
  const basicAuth = async (client: TestClient): Promise<string> => {
    const account = await client.platform.storage.get('meta', 'account');
    if (!account || typeof account !== 'object' || !('secret' in account)) throw new Error('no account');
    return `Basic ${toBase64(utf8.encode(`${account.accountId}.${account.deviceId}:${toBase64(account.secret)}`))}`;
  };

  const upload = async (
    client: TestClient,
    plaintext: Uint8Array,
    counts = { messages: 1, conversations: 1 },
  ): Promise<HistoryArchivePointer> => {
    const auth = await basicAuth(client);
    const sealed = await encryptAttachment(plaintext);
    const created = await fetch(`${server.url}/v1/attachments/tus`, {
      method: 'POST',
      headers: { authorization: auth, 'tus-resumable': '1.0.0', 'upload-length': String(sealed.blobSize) },
    });
    expect(created.status).toBe(201);
    const location = new URL(created.headers.get('location') ?? '', server.url);
    const patched = await fetch(location, {
      method: 'PATCH',
      headers: {
        authorization: auth,
        'tus-resumable': '1.0.0',
        'upload-offset': '0',
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(sealed.blob),
    });
    expect(patched.status).toBe(204);
    return {
      storageId: location.pathname.split('/').pop() ?? '',
      key: toBase64(sealed.key),
      digest: toBase64(sealed.digest),
      paddedSize: sealed.paddedSize,
      plainSize: sealed.plainSize,
      ...counts,
    };
  };

  const archiveOf = (accountId: string, conversations: HistoryArchive['conversations']): Uint8Array =>
    utf8.encode(JSON.stringify({ version: 1, accountId, createdAt: Date.now(), conversations }));

  const message = (conversationId: string, author: string, direction: 'incoming' | 'outgoing', text: string) => ({
    conversationId,
    direction,
    authorAccountId: author,
    authorDeviceId: 1,
    timestamp: Date.now() - 3_600_000,
    serverTimestamp: null,
    storedAt: Date.now() - 3_600_000,
    text,
    quote: null,
    expireTimerSeconds: null,
    status: direction === 'incoming' ? ('received' as const) : ('sent' as const),
    read: true,
  });

  beforeAll(async () => {
    await ensureCliBuilt();
    const socket = join(await mkdtemp(join(tmpdir(), 'cove-hist-admin-')), 'admin.sock');
    server = await startTestServer({ env: { ADMIN_SOCKET: socket } });
    const invite = await answer(socket, { command: 'owner-invite' });
    expect(invite).toMatchObject({ ok: true });
    owner = await newClient(server.url, 'hist_owner', { inviteCode: String(invite.code) });
    admin = await newClient(server.url, 'hist_admin');
    clients.push(owner, admin);
    await owner.messenger.organization.grant('hist_admin', 'admin');
    bob = await newClient(server.url, 'hist_bob');
    carol = await newClient(server.url, 'hist_carol');
    dave = await newClient(server.url, 'hist_dave');
    clients.push(bob, carol, dave);
    await Promise.all([bob.messenger.connect(), carol.messenger.connect(), dave.messenger.connect()]);
    alice = await mkdtemp(join(tmpdir(), 'cove-hist-alice-'));
    expect((await cove(alice, ['register', '--server', server.url, '--username', 'hist_alice'])).code).toBe(0);
    // An admin's notice reaches every member (alice's CLI, bob, carol, dave, the owner) before any new device exists.
    expect((await admin.messenger.sendNotice(NOTICE)).recipients).toBe(5);
  }, 180_000);

  afterAll(async () => {
    for (const client of clients) await destroyClient(client);
    await server?.close();
  });

  it('should link a CLI device with --history, whose `cove history --json` then lists the old conversation', async () => {
    expect((await cove(alice, ['send', 'hist_bob', 'old from alice'])).code).toBe(0);
    const aliceId = await until('bob has it', async () => {
      const conversation = (await bob.messenger.conversations()).find((c) => c.peerUsername === 'hist_alice');
      return conversation?.peerAccountId;
    });
    await until('bob has the text', async () => (await texts(bob, aliceId)).includes('old from alice'));
    const first = (await transcript(bob, aliceId)).find((m) => m.text === 'old from alice');
    await bob.messenger.sendReaction(first?.id ?? '', '👍');
    await bob.messenger.sendText('hist_alice', 'old from bob');
    const heard = await cove(alice, ['listen', '--exit-when-idle'], { json: true });
    expect(heard.code).toBe(0);
    expect(heard.lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ notice: true, sender: 'hist_admin', text: NOTICE }),
    );

    const laptop = await mkdtemp(join(tmpdir(), 'cove-hist-laptop-'));
    const link = start(laptop, ['link', '--server', server.url]);
    try {
      const uri = await link.waitForLine('the link URI', (line) => line.startsWith('cove://'));
      const added = await cove(alice, ['devices', 'link', uri, '--history', '--yes']);
      expect(added.code).toBe(0);
      expect(added.stderr).toMatch(/history: uploading \d+\/\d+/);
      expect(await link.exited).toBe(0);
      expect(link.stderr.join('')).toMatch(/history: imported 3 messages \(0 already here\)$/m);
    } finally {
      await link.kill();
    }
    const history = await cove(laptop, ['history', 'hist_bob'], { json: true });
    const shown = history.lines.map(
      (l) => JSON.parse(l) as { text: string; direction: string; reactions?: { emoji: string }[] },
    );
    expect(history.code).toBe(0);
    expect(shown.map((m) => [m.direction, m.text])).toEqual([
      ['outgoing', 'old from alice'],
      ['incoming', 'old from bob'],
    ]);
    expect(shown[0]?.reactions?.map((r) => r.emoji)).toEqual(['👍']);
    // The notice from before the device existed, in Notices, with its sender and the role its certificate proves.
    const notices = await cove(laptop, ['history', 'notices'], { json: true });
    expect(notices.code).toBe(0);
    expect(notices.lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toEqual([
      expect.objectContaining({
        conversationId: 'notices',
        direction: 'incoming',
        notice: true,
        sender: 'hist_admin',
        senderRole: 'admin',
        text: NOTICE,
      }),
    ]);
    const plain = await cove(laptop, ['history', 'notices']);
    expect(plain.stdout).toContain(`NOTICE from hist_admin: ${NOTICE}`);
    // The conversation is the read-only kind the shells give no composer, as on the other devices.
    const listed = await cove(laptop, ['conversations'], { json: true });
    expect(listed.lines.map((l) => JSON.parse(l) as Record<string, unknown>)).toContainEqual(
      expect.objectContaining({ id: 'notices', kind: 'notices', unreadCount: 1 }),
    );
  });

  it('should import an in-process link with history once, and refuse hostile archives without touching history', async () => {
    await dave.messenger.sendText('hist_bob', 'dave one');
    await dave.messenger.sendText('hist_carol', 'dave to carol');
    await until('bob has it', async () => (await texts(bob, dave.accountId)).includes('dave one'));
    await bob.messenger.sendText('hist_dave', 'bob two');
    await until('dave has it', async () => (await texts(dave, bob.accountId)).includes('bob two'));
    const groupId = (await dave.messenger.createGroup('Old group', ['hist_bob'])).id;
    await dave.messenger.sendGroupText(groupId, 'to the old group');
    await dave.messenger.flushOutbox();
    const noticeTexts = async (client: TestClient): Promise<string[]> =>
      (await client.messenger.messages('notices')).messages.map((m) => m.text).reverse();
    await until('dave has the notice', async () => (await noticeTexts(dave)).includes(NOTICE));
    // Dave's notice as a build from before notices kept their certificate stored it: the archive carries the
    // sender's current certificate from the server instead, which the tablet verifies all the same.
    const [kept] = (await dave.messenger.messages('notices')).messages;
    expect(kept?.notice?.roleCertificate).toHaveLength(34);
    const { role, senderUsername } = kept!.notice!;
    await dave.platform.storage.commit([
      { op: 'put', table: 'messages', key: kept!.id, value: { ...kept!, notice: { role, senderUsername } } },
    ]);

    const progress: HistoryTransferProgress[] = [];
    const sent: HistoryTransferProgress[] = [];
    tablet = await openClient('tablet', await mkdtemp(join(tmpdir(), 'cove-hist-tablet-')));
    clients.push(tablet);
    await tablet.messenger.linkNewDevice({
      serverUrl: server.url,
      oneTimePreKeys: 2,
      onHistoryProgress: (p) => progress.push(p),
      onLinkUri: (uri) => {
        void dave.messenger.addDevice(uri, { history: true, onHistoryProgress: (p) => sent.push(p) });
      },
    });
    tablet.accountId = dave.accountId;
    expect(sent.map((p) => p.phase)).toEqual(expect.arrayContaining(['preparing', 'uploading', 'done']));
    expect(progress.map((p) => p.phase)).toEqual(expect.arrayContaining(['downloading', 'importing', 'done']));
    expect(progress.at(-1)).toMatchObject({ phase: 'done', imported: 5, skipped: 0, dropped: 0 });
    expect(await texts(tablet, bob.accountId)).toEqual(['dave one', 'bob two']);
    expect(await texts(tablet, carol.accountId)).toEqual(['dave to carol']);
    const imported = (await tablet.messenger.messages('notices')).messages;
    expect(
      imported.map((m) => [m.direction, m.authorAccountId, m.text, m.notice?.role, m.notice?.senderUsername]),
    ).toEqual([['incoming', admin.accountId, NOTICE, 'admin', 'hist_admin']]);
    expect((await tablet.messenger.conversations()).find((c) => c.id === 'notices')).toMatchObject({
      kind: 'notices',
      unreadCount: 1,
    });
    // The group's history is there at once (system lines are not carried); its state comes with the full sync.
    const groupTexts = async (): Promise<string[]> =>
      (await tablet.messenger.messages(`group:${groupId}`)).messages.filter((m) => !m.system).map((m) => m.text);
    expect(await groupTexts()).toEqual(['to the old group']);
    await tablet.messenger.connect();
    await until('the group state arrived', async () => (await tablet.messenger.group(groupId))?.title === 'Old group');
    expect(await groupTexts()).toEqual(['to the old group']);
    const before = JSON.stringify([await transcript(tablet, bob.accountId), await transcript(tablet, carol.accountId)]);

    // The same history again: nothing is duplicated.
    const bobChat = `direct:${bob.accountId}`;
    const again = archiveOf(dave.accountId, [
      {
        id: bobChat,
        peerUsername: 'hist_bob',
        title: null,
        messages: (await transcript(dave, bob.accountId)).map((m) => ({
          ...message(bobChat, m.authorAccountId, m.direction, m.text),
          timestamp: m.timestamp,
          storedAt: m.storedAt,
        })),
      },
    ]);
    const againPointer = await upload(dave, again);
    expect(await tablet.messenger.receiveHistoryArchive(againPointer)).toEqual({ imported: 0, skipped: 2, dropped: 0 });
    // Imported: the new device deleted the encrypted archive from the server (its sibling uploaded it).
    const archiveUrl = `${server.url}/v1/attachments/${againPointer.storageId}`;
    expect((await fetch(archiveUrl, { headers: { authorization: await basicAuth(bob) } })).status).toBe(404);

    const refused = async (pointer: HistoryArchivePointer, why: RegExp): Promise<void> => {
      await expect(tablet.messenger.receiveHistoryArchive(pointer)).rejects.toMatchObject({
        code: 'history_refused',
        message: expect.stringMatching(why),
      });
    };
    // Hostile messages: one claiming carol's conversation inside bob's, one by carol in bob's, one "outgoing" by bob.
    const forged = (conversation: string, m: ReturnType<typeof message>) =>
      archiveOf(dave.accountId, [
        {
          id: bobChat,
          peerUsername: 'hist_bob',
          title: null,
          messages: [message(bobChat, bob.accountId, 'incoming', 'fine'), { ...m, conversationId: conversation }],
        },
      ]);
    const carolChat = `direct:${carol.accountId}`;
    await refused(
      await upload(dave, forged(carolChat, message(carolChat, carol.accountId, 'incoming', 'sneaky'))),
      /another conversation/,
    );
    await refused(
      await upload(dave, forged(bobChat, message(bobChat, carol.accountId, 'incoming', 'impostor'))),
      /wrong author/,
    );
    await refused(
      await upload(dave, forged(bobChat, message(bobChat, bob.accountId, 'outgoing', 'not mine'))),
      /wrong author/,
    );

    // Notices: each certificate is checked under the key the tablet pinned (inherited from dave when linking).
    const certificateOf = async (accountId: string) =>
      (await (
        await fetch(`${server.url}/v1/org/certificates/${accountId}`, {
          headers: { authorization: await basicAuth(dave) },
        })
      ).json()) as { certificate: string; signature: string };
    const admins = await certificateOf(admin.accountId);
    await owner.messenger.organization.grant('hist_bob', 'member');
    const bobs = await certificateOf(bob.accountId);
    const now = Date.now();
    const otherKey = signRoleCertificate(generateOrganizationKey(), {
      accountId: carol.accountId,
      role: 'admin',
      issuedAt: now - 1000,
      expiresAt: now + 3_600_000,
    });
    const notice = (
      author: string,
      text: string,
      certificate: { certificate: string; signature: string },
      at: number,
    ): ArchivedMessage => ({
      ...message('notices', author, author === dave.accountId ? 'outgoing' : 'incoming', text),
      timestamp: at,
      storedAt: at,
      read: false,
      notice: {
        senderUsername: null,
        roleCertificate: certificate.certificate,
        roleCertificateSignature: certificate.signature,
      },
    });
    const noticesOf = (messages: ArchivedMessage[]) =>
      archiveOf(dave.accountId, [{ id: 'notices', peerUsername: null, title: null, messages }]);
    const forgedNotices = noticesOf([
      notice(admin.accountId, 'second from the admin', admins, now - 400),
      // A member's genuine certificate proves member only.
      notice(bob.accountId, 'bob is in charge', bobs, now - 300),
      // Carol "admin" under a key that is not the organization's.
      notice(
        carol.accountId,
        'carol is in charge',
        { certificate: toBase64(otherKey.body), signature: toBase64(otherKey.signature) },
        now - 200,
      ),
      // The admin's genuine certificate, replayed for carol: it names the admin.
      notice(carol.accountId, 'carol again', admins, now - 100),
    ]);
    expect(await tablet.messenger.receiveHistoryArchive(await upload(dave, forgedNotices))).toEqual({
      imported: 1,
      skipped: 0,
      dropped: 3,
    });
    expect(await noticeTexts(tablet)).toEqual([NOTICE, 'second from the admin']);
    // The same notices again: the genuine one is held already, the forged ones are dropped again.
    expect(await tablet.messenger.receiveHistoryArchive(await upload(dave, forgedNotices))).toEqual({
      imported: 0,
      skipped: 1,
      dropped: 3,
    });
    const noticesBefore = JSON.stringify((await tablet.messenger.messages('notices')).messages);
    // Hostile notices refuse the whole archive: one "from" this account as incoming, one outside the notices, and a
    // plain message inside them.
    await refused(
      await upload(
        dave,
        noticesOf([
          { ...notice(dave.accountId, 'me, incoming', admins, now), direction: 'incoming', status: 'received' },
        ]),
      ),
      /wrong author/,
    );
    await refused(
      await upload(
        dave,
        archiveOf(dave.accountId, [
          {
            id: bobChat,
            peerUsername: 'hist_bob',
            title: null,
            messages: [{ ...notice(bob.accountId, 'official?', admins, now), conversationId: bobChat }],
          },
        ]),
      ),
      /notice outside the notices/,
    );
    await refused(
      await upload(dave, noticesOf([message('notices', admin.accountId, 'incoming', 'plain')])),
      /not a notice/,
    );
    // A notice that quotes (nothing but text rides under the official marker), and a certificate one byte long.
    await refused(
      await upload(
        dave,
        noticesOf([
          {
            ...notice(admin.accountId, 'quoting', admins, now),
            quote: { timestamp: now, authorAccountId: bob.accountId, text: 'x' },
          },
        ]),
      ),
      /more than text/,
    );
    const long = Uint8Array.from(atob(admins.certificate), (c) => c.charCodeAt(0));
    await refused(
      await upload(
        dave,
        noticesOf([
          notice(admin.accountId, 'long', { ...admins, certificate: toBase64(Uint8Array.of(...long, 0)) }, now),
        ]),
      ),
      /wrong size/,
    );
    expect(JSON.stringify((await tablet.messenger.messages('notices')).messages)).toBe(noticesBefore);

    // Another account's archive, malformed JSON, a wrong digest, and a size past the bound.
    await refused(await upload(dave, archiveOf(carol.accountId, [])), /another account/);
    await refused(await upload(dave, utf8.encode('{"version":1,"conversations":[')), /malformed/);
    const good = await upload(dave, archiveOf(dave.accountId, []));
    const digest = Uint8Array.from(atob(good.digest), (c) => c.charCodeAt(0));
    digest[0] = (digest[0] ?? 0) ^ 1;
    await refused({ ...good, digest: toBase64(digest) }, /digest/);
    await refused({ ...good, paddedSize: MAX_HISTORY_ARCHIVE_BYTES + 1 }, /too large/);
    // A pointer claiming a smaller blob than was uploaded: only that much is read, and it does not verify.
    await refused({ ...good, paddedSize: good.paddedSize - 1, plainSize: 0 }, /digest/);

    // Nothing stored changed.
    expect(JSON.stringify([await transcript(tablet, bob.accountId), await transcript(tablet, carol.accountId)])).toBe(
      before,
    );
    expect(await texts(tablet, bob.accountId)).not.toContain('fine');
  });
});

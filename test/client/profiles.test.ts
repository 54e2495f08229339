/**
 * Encrypted profiles between Node clients on a real server: a profile set by one client reaches a peer with the first
 * message (the profile key inside the encrypted content), titles keep the server's spelling whatever case was typed,
 * nicknames override, a profile key claimed by another account (a forged username, a bare key update) lands only on
 * the account whose session carried it, rotation leaves the old key reading nothing while contacts get the new one,
 * the access key derived from the key is on the account, and the server holds no plaintext of the profile.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';

import type { AccountRecord } from '@cove/client';
import { deriveAccessKey, profileCiphertextSizes, profileKeyVersion } from '@cove/crypto';
import { encodeContent, PROFILE_CIPHERTEXT_SIZES } from '@cove/protocol';
import { findOnServer } from '../support/canary.js';
import { destroyClient, newClient, texts, until } from '../support/clients.js';
import type { TestClient } from '../support/clients.js';
import { cove } from '../support/cli.js';
import { RawDevice } from '../support/raw-device.js';
import { startTestServer } from '../support/server.js';
import type { TestServer } from '../support/server.js';

jest.setTimeout(120_000);

const NAME = 'Alice Ängström 爱丽丝';
const ABOUT = 'profile-about-canary';
const AVATAR = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7) % 251);

describe('Encrypted profiles between Node clients', () => {
  let server: TestServer;
  let alice: TestClient;
  let bob: TestClient;
  let carol: TestClient;
  let mallory: RawDevice;

  /** GET of a profile version with the client's own credential, as another client would ask. */
  const getProfile = async (client: TestClient, accountId: string, version: string): Promise<number> => {
    const account = (await client.platform.storage.get('meta', 'account')) as AccountRecord;
    const basic = Buffer.from(
      `${account.accountId}.${account.deviceId}:${Buffer.from(account.secret).toString('base64')}`,
    ).toString('base64');
    const response = await fetch(`${server.url}/v1/profile/${accountId}/${version}`, {
      headers: { authorization: `Basic ${basic}` },
    });
    return response.status;
  };

  beforeAll(async () => {
    server = await startTestServer();
    alice = await newClient(server.url, 'Pf_Alice');
    bob = await newClient(server.url, 'Pf_Bob');
    carol = await newClient(server.url, 'pf_carol');
    mallory = await RawDevice.register(server.url, 'pf_mallory');
    await Promise.all([alice.messenger.connect(), bob.messenger.connect(), carol.messenger.connect()]);
  }, 120_000);

  afterAll(async () => {
    for (const client of [alice, bob, carol]) if (client) await destroyClient(client);
    await server?.close();
  });

  it('should agree with the crypto package on the padded lengths the server accepts', () => {
    for (const field of ['name', 'about', 'avatar'] as const)
      expect([...PROFILE_CIPHERTEXT_SIZES[field]]).toEqual(profileCiphertextSizes(field));
  });

  it("should give the peer the sender's profile with the first message, and upload the access key", async () => {
    const own = await alice.messenger.setProfile({ name: ` ${NAME} `, about: ABOUT, aboutEmoji: '🚀', avatar: AVATAR });
    expect(own.name).toBe(NAME);
    await expect(alice.messenger.setProfile({ name: 'x'.repeat(27) })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(alice.messenger.setProfile({ name: 'evil\u202Eeman' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await expect(alice.messenger.setProfile({ avatar: new Uint8Array(131_073) })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    // 26 flags of two code points each are 26 characters (52 code points, 208 bytes); a 27th is one too many.
    await expect(alice.messenger.setProfile({ name: '🇨🇳'.repeat(26) })).resolves.toBeDefined();
    await expect(alice.messenger.setProfile({ name: '🇨🇳'.repeat(27) })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await alice.messenger.setProfile({ name: NAME });

    // Before any message Bob holds no key of Alice's: nothing to show but her username.
    const before = await bob.messenger.contact('pf_alice');
    expect([before.hasProfileKey, before.profileName, before.displayName]).toEqual([false, null, 'Pf_Alice']);

    await alice.messenger.sendText('pf_bob', 'hi with my profile');
    await until('bob has the message', async () => (await texts(bob, alice.accountId)).includes('hi with my profile'));
    const seen = await until('bob has the profile', async () => {
      const contact = await bob.messenger.contact(alice.accountId);
      return contact.profileName === NAME ? contact : null;
    });
    expect([seen.about, seen.aboutEmoji, seen.displayName]).toEqual([ABOUT, '🚀', NAME]);
    expect(seen.avatar).toEqual(AVATAR);

    const rows = await server.query<{ unidentified_access_key: Uint8Array }>(
      'SELECT unidentified_access_key FROM accounts WHERE id = $1',
      [alice.accountId],
    );
    const ownRecord = await alice.platform.storage.get('meta', 'ownProfile');
    const key = (ownRecord as { profileKey: Uint8Array }).profileKey;
    expect(Buffer.from(rows[0]!.unidentified_access_key)).toEqual(Buffer.from(deriveAccessKey(key)));
    expect((await alice.messenger.profile()).version).toBe(profileKeyVersion(key, alice.accountId));

    // The key goes with the first message only: the contact row records it as shared.
    const row = await alice.platform.storage.get('contacts', bob.accountId);
    expect(row?.sharedProfileKeyVersion).toBe(profileKeyVersion(key, alice.accountId));
  });

  it("should title a chat with the server's spelling however it was typed, and let a nickname override", async () => {
    for (const typed of ['pf_bob', 'PF_BOB', 'Pf_BoB']) {
      expect(await carol.messenger.resolve(typed)).toBe(bob.accountId);
      expect((await carol.messenger.contact(typed)).username).toBe('Pf_Bob');
    }
    await carol.messenger.sendText('PF_BOB', 'hello from carol');
    const conversation = (await carol.messenger.conversations()).find((c) => c.peerAccountId === bob.accountId);
    expect(conversation?.peerUsername).toBe('Pf_Bob');
    await carol.messenger.resolve('pf_bob');
    expect((await carol.messenger.conversations()).find((c) => c.peerAccountId === bob.accountId)?.peerUsername).toBe(
      'Pf_Bob',
    );

    await bob.messenger.setNickname(alice.accountId, 'Ally');
    expect((await bob.messenger.contact('pf_alice')).displayName).toBe('Ally');
    await expect(bob.messenger.setNickname(alice.accountId, 'n'.repeat(27))).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await bob.messenger.setNickname(alice.accountId, null);
    expect((await bob.messenger.contact('pf_alice')).displayName).toBe(NAME);
  });

  it('should take a profile key only as the key of the account whose session carried it', async () => {
    const before = await bob.platform.storage.get('contacts', alice.accountId);
    const forgedKey = new Uint8Array(32).fill(0x41);
    // Mallory claims to be Alice (her username) in a message carrying a key, then sends a bare key update.
    const claim = encodeContent({
      kind: 'data',
      data: { text: 'i am alice', timestamp: Date.now(), senderUsername: 'Pf_Alice', profileKey: forgedKey },
    });
    expect((await mallory.send(bob.accountId, claim)).status).toBe(200);
    const update = encodeContent({ kind: 'profile-key', profileKey: new Uint8Array(32).fill(0x42) });
    expect((await mallory.send(bob.accountId, update)).status).toBe(200);
    await until('bob took mallory’s key as mallory’s', async () => {
      const row = await bob.platform.storage.get('contacts', mallory.accountId);
      return row?.profileKey?.[0] === 0x42;
    });
    const after = await bob.platform.storage.get('contacts', alice.accountId);
    expect(Buffer.from(after!.profileKey!)).toEqual(Buffer.from(before!.profileKey!));
    expect((await bob.messenger.contact(alice.accountId)).profileName).toBe(NAME);
    // Mallory's chat is titled with her own username, not the one she claimed.
    const chat = (await bob.messenger.conversations()).find((c) => c.peerAccountId === mallory.accountId);
    expect(chat?.peerUsername).not.toBe('Pf_Alice');
    // A key of the wrong length cannot even be encoded (and a receiver's decoder refuses it the same way).
    expect(() => encodeContent({ kind: 'profile-key', profileKey: new Uint8Array(31) })).toThrow(/profileKey/);
  });

  it('should make the old key useless after a rotation, and re-share the new key except with the excluded', async () => {
    // Carol gets Alice's current key too.
    await alice.messenger.sendText('pf_carol', 'hi carol');
    await until(
      'carol has the profile',
      async () => (await carol.messenger.contact(alice.accountId)).profileName === NAME,
    );
    const oldKey = (await carol.platform.storage.get('contacts', alice.accountId))!.profileKey!;
    const oldVersion = profileKeyVersion(oldKey, alice.accountId);
    expect(await getProfile(bob, alice.accountId, oldVersion)).toBe(200);

    await alice.messenger.rotateProfileKey({ except: ['pf_carol'] });
    const newVersion = (await alice.messenger.profile()).version;
    expect(newVersion).not.toBe(oldVersion);
    expect(await getProfile(bob, alice.accountId, oldVersion)).toBe(404);
    expect(await getProfile(carol, alice.accountId, newVersion)).toBe(200);

    // Bob had the old key: he gets the new one and reads the profile again.
    await until('bob has the new key', async () => {
      const row = await bob.platform.storage.get('contacts', alice.accountId);
      return row?.profileKey && profileKeyVersion(row.profileKey, alice.accountId) === newVersion;
    });
    await until(
      'bob reads the profile',
      async () => (await bob.messenger.contact(alice.accountId)).profileName === NAME,
    );
    // Carol (excluded) still holds the old key, which now reads nothing.
    await until('alice sent everything', async () => (await alice.messenger.outboxSize()) === 0);
    const carolsRow = await carol.platform.storage.get('contacts', alice.accountId);
    expect(Buffer.from(carolsRow!.profileKey!)).toEqual(Buffer.from(oldKey));
    const refreshed = await carol.messenger.contact(alice.accountId, { refresh: true });
    expect([refreshed.profileName, refreshed.avatar, refreshed.displayName]).toEqual([null, null, 'Pf_Alice']);
  });

  it('should set and show profiles from the CLI, with JPEG metadata removed from the avatar', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cove-cli-profile-'));
    expect((await cove(dir, ['register', '--server', server.url, '--username', 'Pf_Cli'])).code).toBe(0);
    // A JPEG with an EXIF segment holding a GPS-like marker, and a comment.
    const exif = Buffer.from('Exif\0\0GPS-SECRET-48.8584N');
    const jpeg = Buffer.concat([
      Buffer.from([0xff, 0xd8]),
      Buffer.from([0xff, 0xe0, 0x00, 0x06]),
      Buffer.from('JFIF'),
      Buffer.from([0xff, 0xe1, 0x00, exif.length + 2]),
      exif,
      Buffer.from([0xff, 0xfe, 0x00, 0x07]),
      Buffer.from('hello'),
      Buffer.from([0xff, 0xda, 0x00, 0x02, 0x11, 0x22, 0xff, 0xd9]),
    ]);
    const file = join(dir, 'me.jpg');
    await writeFile(file, jpeg);
    const set = await cove(
      dir,
      ['profile', 'set', '--name', 'Cli Person', '--about', 'from a terminal', '--avatar', file],
      {
        json: true,
      },
    );
    expect(set.code).toBe(0);
    expect(JSON.parse(set.lines[0]!)).toMatchObject({ type: 'profile', name: 'Cli Person', about: 'from a terminal' });
    const bad = await cove(dir, ['profile', 'set', '--avatar', join(dir, '..')]);
    expect(bad.code).not.toBe(0);
    expect((await cove(dir, ['send', 'pf_bob', 'hello from the cli'])).code).toBe(0);
    const cli = await until('bob has the cli profile', async () => {
      const contacts = await bob.platform.storage.list('contacts');
      const row = contacts.find((c) => c.value.username === 'Pf_Cli');
      return row ? await bob.messenger.contact(row.key).then((c) => (c.profileName === 'Cli Person' ? c : null)) : null;
    });
    expect(Buffer.from(cli.avatar!).includes('GPS-SECRET')).toBe(false);
    expect(Buffer.from(cli.avatar!).includes('JFIF')).toBe(true);

    // Bob answers; the CLI then shows Bob's profile (none set: his username) and its own.
    await bob.messenger.setProfile({ name: 'Bob B.' });
    await bob.messenger.sendText(cli.accountId, 'hi cli');
    await until(
      'the cli has bob’s key',
      async () => {
        await cove(dir, ['listen', '--exit-when-idle']);
        const got = await cove(dir, ['profile', 'get', 'PF_BOB', '--refresh'], { json: true });
        const line = JSON.parse(got.lines[got.lines.length - 1] ?? '{}') as { name?: string; username?: string };
        return line.name === 'Bob B.' && line.username === 'Pf_Bob';
      },
      60_000,
    );
    const own = await cove(dir, ['profile', 'get']);
    expect(own.stdout).toContain('name: Cli Person');
  });

  it('should leave no plaintext of the profile on the server', async () => {
    expect(await findOnServer(server, [NAME, ABOUT, AVATAR.subarray(0, 64)])).toEqual([]);
  });
});

/**
 * The new device's side of a provisioning message, without a server: a genuine message opens into the account and
 * its contacts; a tampered, replayed (another channel), expired, future or malformed one is refused with
 * `link_failed`, and link URIs that are not ours are `invalid_input`.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { IdentityKeyPair, PrivateKey, ready, sealProvisioningMessage } from '@cove/crypto';
import { PROVISIONING_CHANNEL_TTL_MS, toBase64, type ProvisioningPayload } from '@cove/protocol';

import { ClientErrorCode } from '../src/errors.js';
import { formatLinkUri, openProvisioning, parseLinkUri } from '../src/linking.js';

const ADDRESS = 'abcdefghijklmnopqrstuv';
const ALICE = '11111111-2222-4333-8444-555555555555';
const BOB = '66666666-7777-4888-8999-aaaaaaaaaaaa';
const NOW = 1_800_000_000_000;

let identity: IdentityKeyPair;
let bobKey: Uint8Array;

const payload = (overrides: Partial<ProvisioningPayload> = {}): ProvisioningPayload => ({
  version: 1,
  createdAt: NOW,
  accountId: ALICE,
  username: 'alice',
  identityKeyPair: toBase64(identity.serialize()),
  provisioningCode: 'code-123',
  contacts: [{ accountId: BOB, username: 'bob', identityKey: toBase64(bobKey), trust: 'verified', blocked: false }],
  ...overrides,
});

const seal = (to: PrivateKey, value: unknown, address = ADDRESS): Uint8Array =>
  sealProvisioningMessage(to.getPublicKey(), address, new TextEncoder().encode(JSON.stringify(value)));

const refused = (run: () => unknown, code: string = ClientErrorCode.LinkFailed): void => {
  expect(run).toThrow(expect.objectContaining({ code }));
};

describe('provisioning on the new device', () => {
  beforeAll(async () => {
    await ready();
    identity = IdentityKeyPair.generate();
    bobKey = IdentityKeyPair.generate().publicKey.serialize();
  });

  it('should open a genuine message into the account and its contacts with their trust', () => {
    const ephemeral = PrivateKey.generate();
    const opened = openProvisioning(ephemeral, ADDRESS, seal(ephemeral, payload()), NOW + 1000);
    expect(opened.accountId).toBe(ALICE);
    expect(opened.username).toBe('alice');
    expect(opened.provisioningCode).toBe('code-123');
    expect(opened.identity.publicKey.serialize()).toEqual(identity.publicKey.serialize());
    expect(opened.writes).toContainEqual(
      expect.objectContaining({ table: 'identities', key: BOB, value: expect.objectContaining({ trust: 'verified' }) }),
    );
    expect(opened.writes).toContainEqual({ op: 'put', table: 'usernames', key: 'bob', value: BOB });
  });

  it('should refuse tampered, replayed, expired, future and malformed messages', () => {
    const ephemeral = PrivateKey.generate();
    const sealed = seal(ephemeral, payload());
    const tampered = sealed.slice();
    const at = tampered.length - 20;
    tampered[at] = (tampered[at] ?? 0) ^ 0x40;
    refused(() => openProvisioning(ephemeral, ADDRESS, tampered, NOW));
    // The same message arriving on another channel (a replay to a later link attempt).
    refused(() => openProvisioning(ephemeral, 'zyxwvutsrqponmlkjihgfe', sealed, NOW));
    refused(() => openProvisioning(PrivateKey.generate(), ADDRESS, sealed, NOW));
    refused(() => openProvisioning(ephemeral, ADDRESS, sealed, NOW + PROVISIONING_CHANNEL_TTL_MS + 6 * 60_000));
    refused(() =>
      openProvisioning(ephemeral, ADDRESS, seal(ephemeral, payload({ createdAt: NOW + 10 * 60_000 })), NOW),
    );
    refused(() => openProvisioning(ephemeral, ADDRESS, seal(ephemeral, { ...payload(), extra: 1 }), NOW));
    refused(() => openProvisioning(ephemeral, ADDRESS, seal(ephemeral, payload({ identityKeyPair: 'AAAA' })), NOW));
    refused(() =>
      openProvisioning(
        ephemeral,
        ADDRESS,
        sealProvisioningMessage(ephemeral.getPublicKey(), ADDRESS, new TextEncoder().encode('not json')),
        NOW,
      ),
    );
  });

  it("should hand over the pinned organization key, and the owner's private half only when it matches", () => {
    const ephemeral = PrivateKey.generate();
    const key = PrivateKey.generate();
    const publicKey = toBase64(key.getPublicKey().serialize());
    const member = openProvisioning(
      ephemeral,
      ADDRESS,
      seal(ephemeral, payload({ organizationKey: { publicKey } })),
      NOW,
    );
    expect(member.writes).toContainEqual({
      op: 'put',
      table: 'meta',
      key: 'organization',
      value: expect.objectContaining({ pinnedKey: key.getPublicKey().serialize(), privateKey: null }),
    });
    const owner = openProvisioning(
      ephemeral,
      ADDRESS,
      seal(ephemeral, payload({ organizationKey: { publicKey, privateKey: toBase64(key.serialize()) } })),
      NOW,
    );
    expect(owner.writes).toContainEqual(
      expect.objectContaining({ key: 'organization', value: expect.objectContaining({ privateKey: key.serialize() }) }),
    );
    const mismatched = { publicKey, privateKey: toBase64(PrivateKey.generate().serialize()) };
    refused(() => openProvisioning(ephemeral, ADDRESS, seal(ephemeral, payload({ organizationKey: mismatched })), NOW));
    const garbage = { publicKey: toBase64(new Uint8Array(33)) };
    refused(() => openProvisioning(ephemeral, ADDRESS, seal(ephemeral, payload({ organizationKey: garbage })), NOW));
    expect(openProvisioning(ephemeral, ADDRESS, seal(ephemeral, payload()), NOW).writes).not.toContainEqual(
      expect.objectContaining({ key: 'organization' }),
    );
  });

  it('should round-trip link URIs and refuse anything else', () => {
    const key = PrivateKey.generate().getPublicKey();
    const uri = formatLinkUri(ADDRESS, key);
    expect(uri).toMatch(/^cove:\/\/link\?uuid=abcdefghijklmnopqrstuv&pub_key=[A-Za-z0-9_-]{44}$/);
    const parsed = parseLinkUri(uri);
    expect(parsed.address).toBe(ADDRESS);
    expect(parsed.publicKey.serialize()).toEqual(key.serialize());
    for (const bad of [
      'https://example.com/link?uuid=abcdefghijklmnopqrstuv&pub_key=AAAA',
      'cove://link?uuid=short&pub_key=' + uri.split('pub_key=')[1],
      'cove://link?uuid=abcdefghijklmnopqrstuv&pub_key=AAAA',
      'cove://link?uuid=abcdefghijklmnopqrstuv',
      '',
    ])
      refused(() => parseLinkUri(bad), ClientErrorCode.InvalidInput);
  });
});

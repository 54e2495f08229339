/**
 * A hand-driven Signal device for attack tests: it speaks the server's HTTP API and the Signal protocol directly
 * (@cove/crypto's in-memory stores), with none of the messenger core's rules, so a test can send exactly the bytes
 * an attacker would — any Content encoding, garbage ciphertext, a retry request for someone else's messages — and
 * read exactly what came back to it. It can be a fresh account, a device linked to an existing account (with that
 * account's identity key or a fresh one), or an existing device whose credential a malicious server handed to an
 * attacker (`takeOver`, done in the test database). It keeps nothing on disk and never acknowledges what it did not
 * fetch.
 */
import { createHash, randomBytes } from 'node:crypto';

import {
  IdentityKeyPair,
  InMemoryIdentityKeyStore,
  InMemoryKyberPreKeyStore,
  InMemoryPreKeyStore,
  InMemorySenderKeyStore,
  InMemorySessionStore,
  InMemorySignedPreKeyStore,
  KEMKeyPair,
  KEMPublicKey,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PrivateKey,
  ProtocolAddress,
  PublicKey,
  SenderKeyDistributionMessage,
  SignalMessage,
  SignedPreKeyRecord,
  CiphertextMessageType,
  ContentHint,
  SenderCertificate,
  UnidentifiedSenderMessageContent,
  groupDecrypt,
  groupEncrypt,
  processPreKeyBundle,
  processSenderKeyDistributionMessage,
  ready,
  sealedSenderDecryptToUsmc,
  sealedSenderEncrypt,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@cove/crypto';
import {
  EnvelopeListResponse,
  PreKeyBundleResponse,
  decodeContent,
  encodeContent,
  fromBase64,
  padContent,
  toBase64,
  unpadContent,
} from '@cove/protocol';
import type { Content, Envelope, OutgoingMessage } from '@cove/protocol';

import type { AccountRecord, KeyValueStorage } from '@cove/client';

import type { TestServer } from './server.js';

/** What the device read from one envelope. */
export type Received = {
  envelope: Envelope;
  /** Who sent it: the envelope's source, or for a sealed envelope the sender named by its certificate. */
  source?: { accountId: string; deviceId: number };
  /** Decrypted, unpadded plaintext (undefined when decryption failed). */
  plaintext?: Uint8Array;
  /** The decoded content, when the plaintext is valid Content. */
  content?: Content;
  error?: string;
};

/** The numeric type of a PreKeySignalMessage, as `CiphertextMessage.type()` reports it. */
const PREKEY_MESSAGE_TYPE: number = CiphertextMessageType.PreKey;

const bytes = (base64: string): Uint8Array<ArrayBuffer> => new Uint8Array(fromBase64(base64));

export class RawDevice {
  readonly sessions = new InMemorySessionStore();
  readonly identities: InMemoryIdentityKeyStore;
  readonly preKeys = new InMemoryPreKeyStore();
  readonly signedPreKeys = new InMemorySignedPreKeyStore();
  readonly kyberPreKeys = new InMemoryKyberPreKeyStore();
  /** Sender-key chains: our own (sendSenderKey) and those others distributed to us (taken in by receive). */
  readonly senderKeys = new InMemorySenderKeyStore();
  /** Every envelope read so far, in order. */
  readonly received: Received[] = [];

  private constructor(
    readonly serverUrl: string,
    readonly accountId: string,
    readonly deviceId: number,
    readonly secret: Uint8Array,
    readonly identity: IdentityKeyPair,
    readonly registrationId: number,
  ) {
    this.identities = new InMemoryIdentityKeyStore(identity, registrationId);
  }

  private static keys(identity: IdentityKeyPair): {
    signed: SignedPreKeyRecord;
    kyber: KyberPreKeyRecord;
    upload: Record<string, unknown>;
  } {
    const signedPrivate = PrivateKey.generate();
    const signedPublic = signedPrivate.getPublicKey().serialize();
    const signedSignature = identity.privateKey.sign(signedPublic);
    const signed = SignedPreKeyRecord.new(1, Date.now(), signedPrivate.getPublicKey(), signedPrivate, signedSignature);
    const kem = KEMKeyPair.generate();
    const kyberPublic = kem.getPublicKey().serialize();
    const kyberSignature = identity.privateKey.sign(kyberPublic);
    const kyber = KyberPreKeyRecord.new(1, Date.now(), kem, kyberSignature);
    return {
      signed,
      kyber,
      upload: {
        signedPreKey: { keyId: 1, publicKey: toBase64(signedPublic), signature: toBase64(signedSignature) },
        kyberLastResortPreKey: { keyId: 1, publicKey: toBase64(kyberPublic), signature: toBase64(kyberSignature) },
      },
    };
  }

  private async install(keys: { signed: SignedPreKeyRecord; kyber: KyberPreKeyRecord }): Promise<void> {
    await this.signedPreKeys.saveSignedPreKey(1, keys.signed);
    await this.kyberPreKeys.saveKyberPreKey(1, keys.kyber);
  }

  /** A new account of its own (identity key, signed and last-resort prekeys, no one-time keys). */
  static async register(serverUrl: string, username?: string, inviteCode?: string): Promise<RawDevice> {
    await ready();
    const identity = IdentityKeyPair.generate();
    const secret = randomBytes(32);
    const registrationId = 1 + (randomBytes(2).readUInt16BE() % 16383);
    const keys = RawDevice.keys(identity);
    const response = await fetch(`${serverUrl}/v1/accounts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...(username ? { username } : {}),
        ...(inviteCode ? { inviteCode } : {}),
        secret: toBase64(secret),
        registrationId,
        identityKey: toBase64(identity.publicKey.serialize()),
        ...keys.upload,
      }),
    });
    if (response.status !== 200 && response.status !== 201)
      throw new Error(`register: ${response.status} ${await response.text()}`);
    const created = (await response.json()) as { accountId: string; deviceId: number };
    const device = new RawDevice(serverUrl, created.accountId, created.deviceId, secret, identity, registrationId);
    await device.install(keys);
    return device;
  }

  /**
   * A device linked to an existing account through the real provisioning flow. `identity` is the key its prekeys are
   * signed with: the account's own (a genuine linked device) or, when the test has made the server's account key
   * an attacker's, a fresh one.
   */
  static async link(
    serverUrl: string,
    owner: { accountId: string; deviceId: number; secret: Uint8Array },
    identity: IdentityKeyPair,
  ): Promise<RawDevice> {
    await ready();
    const codeResponse = await fetch(`${serverUrl}/v1/devices/provisioning-code`, {
      method: 'POST',
      headers: { authorization: RawDevice.basic(owner.accountId, owner.deviceId, owner.secret) },
    });
    if (codeResponse.status >= 300) throw new Error(`provisioning code: ${codeResponse.status}`);
    const { code } = (await codeResponse.json()) as { code: string };
    const secret = randomBytes(32);
    const registrationId = 1 + (randomBytes(2).readUInt16BE() % 16383);
    const keys = RawDevice.keys(identity);
    const response = await fetch(`${serverUrl}/v1/devices`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ provisioningCode: code, secret: toBase64(secret), registrationId, ...keys.upload }),
    });
    if (response.status >= 300) throw new Error(`link: ${response.status} ${await response.text()}`);
    const linked = (await response.json()) as { accountId: string; deviceId: number };
    const device = new RawDevice(serverUrl, linked.accountId, linked.deviceId, secret, identity, registrationId);
    await device.install(keys);
    return device;
  }

  /**
   * What a malicious server can arrange: an attacker gets a working credential for an existing device (here by
   * rewriting the credential hash in the database) and speaks for it with a fresh identity key of its own.
   */
  static async takeOver(
    server: TestServer,
    target: { accountId: string; deviceId: number; registrationId: number },
  ): Promise<RawDevice> {
    await ready();
    const secret = randomBytes(32);
    await server.query('UPDATE devices SET credential_hash = $1 WHERE account_id = $2 AND id = $3', [
      createHash('sha256').update(secret).digest(),
      target.accountId,
      target.deviceId,
    ]);
    return new RawDevice(
      server.url,
      target.accountId,
      target.deviceId,
      secret,
      IdentityKeyPair.generate(),
      target.registrationId,
    );
  }

  /**
   * The device of a stopped messenger, driven by hand: its own credential, identity key and private prekeys (read
   * from its storage), with no sessions. Used to send what a genuine device could send, exactly when the test says.
   */
  static async fromStorage(storage: KeyValueStorage): Promise<RawDevice> {
    await ready();
    const account = await storage.get<AccountRecord>('meta', 'account');
    if (!account) throw new Error('no account in this storage');
    const device = new RawDevice(
      account.serverUrl,
      account.accountId,
      account.deviceId,
      new Uint8Array(account.secret),
      IdentityKeyPair.deserialize(new Uint8Array(account.identityKeyPair)),
      account.registrationId,
    );
    type Stored = { record: Uint8Array };
    for (const { key, value } of await storage.list<Stored>('preKeys'))
      await device.preKeys.savePreKey(Number(key), PreKeyRecord.deserialize(new Uint8Array(value.record)));
    for (const { key, value } of await storage.list<Stored>('signedPreKeys'))
      await device.signedPreKeys.saveSignedPreKey(
        Number(key),
        SignedPreKeyRecord.deserialize(new Uint8Array(value.record)),
      );
    for (const { key, value } of await storage.list<Stored>('kyberPreKeys'))
      await device.kyberPreKeys.saveKyberPreKey(
        Number(key),
        KyberPreKeyRecord.deserialize(new Uint8Array(value.record)),
      );
    return device;
  }

  static basic(accountId: string, deviceId: number, secret: Uint8Array): string {
    return `Basic ${Buffer.from(`${accountId}.${deviceId}:${toBase64(secret)}`).toString('base64')}`;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
    const response = await fetch(`${this.serverUrl}${path}`, {
      method,
      headers: {
        authorization: RawDevice.basic(this.accountId, this.deviceId, this.secret),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
  }

  private address(accountId: string, deviceId: number): ProtocolAddress {
    return ProtocolAddress.new(accountId, deviceId);
  }

  /**
   * Makes sure a session exists with every device of `accountId` (from its bundles); returns the device list. With
   * `stores`, the sessions are made in those (an identity of the caller's choosing) instead of this device's own.
   */
  async ensureSessions(
    accountId: string,
    stores: { sessions: InMemorySessionStore; identities: InMemoryIdentityKeyStore } = this,
  ): Promise<{ deviceId: number; registrationId: number }[]> {
    const response = await this.call('GET', `/v1/keys/${accountId}/*`);
    if (response.status !== 200) throw new Error(`bundle: ${response.status}`);
    const bundle = PreKeyBundleResponse.parse(response.body);
    const devices: { deviceId: number; registrationId: number }[] = [];
    for (const device of bundle.devices) {
      const address = this.address(accountId, device.deviceId);
      const existing = await stores.sessions.getSession(address);
      if (!existing?.hasCurrentState()) {
        await processPreKeyBundle(
          PreKeyBundle.new(
            device.registrationId,
            device.deviceId,
            device.preKey ? device.preKey.keyId : null,
            device.preKey ? PublicKey.deserialize(bytes(device.preKey.publicKey)) : null,
            device.signedPreKey.keyId,
            PublicKey.deserialize(bytes(device.signedPreKey.publicKey)),
            bytes(device.signedPreKey.signature),
            PublicKey.deserialize(bytes(bundle.identityKey)),
            device.kyberPreKey.keyId,
            KEMPublicKey.deserialize(bytes(device.kyberPreKey.publicKey)),
            bytes(device.kyberPreKey.signature),
          ),
          address,
          this.address(this.accountId, this.deviceId),
          stores.sessions,
          stores.identities,
        );
      }
      devices.push({ deviceId: device.deviceId, registrationId: device.registrationId });
    }
    return devices;
  }

  /**
   * Encrypts `plaintext` (encoded Content, padded here unless `raw`) for every device of `to` (or those in
   * `onlyDevices`) and sends it with the given envelope timestamp; returns the HTTP status.
   */
  async send(
    to: string,
    plaintext: Uint8Array,
    options: { timestamp?: number; raw?: boolean; notice?: boolean; onlyDevices?: number[] } = {},
  ): Promise<{ status: number; body: unknown }> {
    const devices = await this.ensureSessions(to);
    const messages: OutgoingMessage[] = [];
    for (const device of devices) {
      // To our own account: our other devices only (`onlyDevices`), as a genuine device sends a transcript.
      if (options.onlyDevices && !options.onlyDevices.includes(device.deviceId)) continue;
      const ciphertext = await signalEncrypt(
        options.raw ? plaintext : padContent(plaintext),
        this.address(to, device.deviceId),
        this.address(this.accountId, this.deviceId),
        this.sessions,
        this.identities,
      );
      messages.push({
        destinationDeviceId: device.deviceId,
        destinationRegistrationId: device.registrationId,
        type: ciphertext.type() === PREKEY_MESSAGE_TYPE ? 'prekey' : 'whisper',
        content: toBase64(ciphertext.serialize()),
      });
    }
    return this.sendMessages(to, {
      timestamp: options.timestamp ?? Date.now(),
      messages,
      ...(options.notice ? { notice: true } : {}),
    });
  }

  /** A sender certificate of this device, from the server (`GET /v1/certificate/delivery`). */
  async senderCertificate(): Promise<SenderCertificate> {
    const response = await this.call('GET', '/v1/certificate/delivery');
    if (response.status !== 200) throw new Error(`certificate: ${response.status}`);
    return SenderCertificate.deserialize(bytes((response.body as { certificate: string }).certificate));
  }

  /**
   * Like {@link send}, but each device's ciphertext sealed (v1) under `certificate` and sent without credentials
   * with `accessKey` (base64); returns the HTTP status. An attacker's knobs: `innerIdentity` encrypts the inner
   * message in sessions of its own under that identity key instead of this device's, and `sealingIdentity` seals
   * under that key pair (the seal opens only when it is the certificate's key).
   */
  async sendSealed(
    to: string,
    plaintext: Uint8Array,
    options: {
      certificate: SenderCertificate;
      accessKey: string;
      innerIdentity?: IdentityKeyPair;
      sealingIdentity?: IdentityKeyPair;
    },
  ): Promise<{ status: number; body: unknown; types: string[] }> {
    const inner = options.innerIdentity
      ? {
          sessions: new InMemorySessionStore(),
          identities: new InMemoryIdentityKeyStore(options.innerIdentity, this.registrationId),
        }
      : this;
    const devices = await this.ensureSessions(to, inner);
    const messages: OutgoingMessage[] = [];
    const types: string[] = [];
    for (const device of devices) {
      const address = this.address(to, device.deviceId);
      const ciphertext = await signalEncrypt(
        padContent(plaintext),
        address,
        this.address(this.accountId, this.deviceId),
        inner.sessions,
        inner.identities,
      );
      const sealing = new InMemoryIdentityKeyStore(options.sealingIdentity ?? this.identity, this.registrationId);
      const recipientKey = await inner.identities.getIdentity(address);
      if (!recipientKey) throw new Error('no identity key for the recipient');
      await sealing.saveIdentity(address, recipientKey);
      types.push(ciphertext.type() === PREKEY_MESSAGE_TYPE ? 'prekey' : 'whisper');
      const content = UnidentifiedSenderMessageContent.new(ciphertext, options.certificate, ContentHint.Default, null);
      messages.push({
        destinationDeviceId: device.deviceId,
        destinationRegistrationId: device.registrationId,
        type: 'unidentified-sender',
        content: toBase64(await sealedSenderEncrypt(content, address, sealing)),
      });
    }
    const response = await fetch(`${this.serverUrl}/v1/messages/${to}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'unidentified-access-key': options.accessKey },
      body: JSON.stringify({ timestamp: Date.now(), messages }),
    });
    const text = await response.text();
    return { status: response.status, body: text === '' ? undefined : (JSON.parse(text) as unknown), types };
  }

  /**
   * Hands `to` (every device, over 1:1 sessions) our sender key `distributionId`: a group's (`groupId`) or, with
   * `notice`, as an organization-notice key. Returns the HTTP status of the send.
   */
  async distributeSenderKey(
    to: string,
    distributionId: string,
    options: { groupId?: Uint8Array; notice?: boolean },
  ): Promise<{ status: number; body: unknown }> {
    const message = await SenderKeyDistributionMessage.create(
      this.address(this.accountId, this.deviceId),
      distributionId,
      this.senderKeys,
    );
    return this.send(
      to,
      encodeContent({
        kind: 'sender-key',
        senderKey: {
          groupId: options.groupId ?? new Uint8Array(0),
          distributionMessage: message.serialize(),
          ...(options.notice ? { notice: true } : {}),
        },
      }),
    );
  }

  /**
   * Encrypts `plaintext` (encoded Content, padded here) once on our sender key `distributionId` and sends it to every
   * device of the `to` accounts in one multi-recipient request (`notice` marks it for the server); returns the status.
   */
  async sendSenderKey(
    to: string[],
    distributionId: string,
    plaintext: Uint8Array,
    options: { notice?: boolean } = {},
  ): Promise<{ status: number; body: unknown }> {
    const ciphertext = await groupEncrypt(
      this.address(this.accountId, this.deviceId),
      distributionId,
      this.senderKeys,
      padContent(plaintext),
    );
    const recipients = [];
    for (const accountId of to) recipients.push({ accountId, devices: await this.ensureSessions(accountId) });
    return this.call('PUT', '/v1/messages/multi', {
      type: 'senderkey',
      content: toBase64(ciphertext.serialize()),
      timestamp: Date.now(),
      recipients,
      ...(options.notice ? { notice: true } : {}),
    });
  }

  /** Sends envelopes exactly as given (garbage ciphertext, wrong types). */
  async sendMessages(
    to: string,
    request: { timestamp: number; messages: OutgoingMessage[]; urgent?: boolean; notice?: boolean },
  ): Promise<{ status: number; body: unknown }> {
    return this.call('PUT', `/v1/messages/${to}`, request);
  }

  /** Fetches, decrypts, decodes and acknowledges everything queued for this device; returns what was new. */
  async receive(): Promise<Received[]> {
    const fresh: Received[] = [];
    for (;;) {
      const response = await this.call('GET', '/v1/messages');
      if (response.status !== 200) throw new Error(`fetch: ${response.status}`);
      const page = EnvelopeListResponse.parse(response.body);
      for (const envelope of page.envelopes) {
        const entry: Received = { envelope };
        try {
          // A sealed envelope (a contact holding our profile key sends sealed): its sender from the certificate, the
          // inner message as the ordinary envelope would carry it (this test device does not check the certificate).
          let source = { accountId: envelope.sourceAccountId ?? '', deviceId: envelope.sourceDeviceId ?? 0 };
          let type = envelope.type;
          let ciphertext = bytes(envelope.content);
          if (envelope.type === 'unidentified-sender') {
            const usmc = await sealedSenderDecryptToUsmc(ciphertext, this.identities);
            const certificate = usmc.senderCertificate();
            source = { accountId: certificate.senderUuid(), deviceId: certificate.senderDeviceId() };
            type = usmc.msgType() === Number(CiphertextMessageType.PreKey) ? 'prekey' : 'whisper';
            ciphertext = new Uint8Array(usmc.contents());
          }
          entry.source = source;
          const address = this.address(source.accountId, source.deviceId);
          const local = this.address(this.accountId, this.deviceId);
          const padded =
            type === 'senderkey'
              ? await groupDecrypt(address, this.senderKeys, ciphertext)
              : type === 'prekey'
                ? await signalDecryptPreKey(
                    PreKeySignalMessage.deserialize(ciphertext),
                    address,
                    local,
                    this.sessions,
                    this.identities,
                    this.preKeys,
                    this.signedPreKeys,
                    this.kyberPreKeys,
                  )
                : await signalDecrypt(
                    SignalMessage.deserialize(ciphertext),
                    address,
                    local,
                    this.sessions,
                    this.identities,
                  );
          entry.plaintext = unpadContent(padded);
          try {
            entry.content = decodeContent(entry.plaintext);
          } catch (error) {
            entry.error = error instanceof Error ? error.message : String(error);
          }
          // A sender key given to us (as a genuine client takes it: under the address that sent it).
          if (entry.content?.kind === 'sender-key')
            await processSenderKeyDistributionMessage(
              address,
              SenderKeyDistributionMessage.deserialize(entry.content.senderKey.distributionMessage),
              this.senderKeys,
            );
        } catch (error) {
          entry.error = error instanceof Error ? error.message : String(error);
        }
        fresh.push(entry);
        this.received.push(entry);
        await this.call('DELETE', `/v1/messages/${envelope.guid}`);
      }
      if (!page.more || page.envelopes.length === 0) break;
    }
    return fresh;
  }

  /** Every text this device managed to decrypt, from any envelope so far. */
  texts(): string[] {
    return this.received.flatMap((r) => (r.content?.kind === 'data' ? [r.content.data.text] : []));
  }
}

import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  AccountId,
  AckFrame,
  AuthCredentialFrame,
  BASE64_PATTERN,
  Base64Error,
  buildOpenApiDocument,
  ClientFrame,
  CreateAccountRequest,
  EcPublicKey,
  fromBase64,
  Guid,
  isBase64,
  KyberPublicKey,
  SendFrame,
  SendMessagesRequest,
  Signature,
  toBase64,
} from '../src/index.js';

const bytes = (n: number, first = 0): Uint8Array => {
  const b = new Uint8Array(n).map((_, i) => (i * 37 + 11) & 255);
  b[0] = first;
  return b;
};

describe('base64', () => {
  it('should round-trip any byte string and match Node', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (data) => {
        const text = toBase64(data);
        expect(text).toBe(Buffer.from(data).toString('base64'));
        expect(fromBase64(text)).toEqual(data);
      }),
    );
  });

  it('should reject non-canonical input', () => {
    expect(() => fromBase64('abc')).toThrow(Base64Error);
    expect(() => fromBase64('ab$=')).toThrow(Base64Error);
    expect(() => fromBase64('QR==')).toThrow(Base64Error);
    expect(() => fromBase64('QUJ=')).toThrow(Base64Error);
    expect(fromBase64('QQ==')).toEqual(new Uint8Array([65]));
  });

  it("should judge text exactly as the schemas' pattern does (isBase64, the fast check), hostile text included", () => {
    // Base64 with a few characters swapped for padding, other alphabets, controls, non-ASCII and surrogates.
    const hostile = fc
      .tuple(
        fc.uint8Array({ maxLength: 40 }).map((data) => toBase64(data)),
        fc.array(
          fc.tuple(
            fc.nat(),
            fc.constantFrom('=', '==', '-', '_', ' ', '\n', '\0', 'é', '\u0100', '\uD83D', '😀', 'A', '', '=A'),
          ),
          { maxLength: 4 },
        ),
      )
      .map(([text, edits]) =>
        edits.reduce((t, [at, piece]) => {
          const i = t.length === 0 ? 0 : at % (t.length + 1);
          return t.slice(0, i) + piece + t.slice(i + 1);
        }, text),
      );
    fc.assert(
      fc.property(fc.oneof(hostile, fc.string({ unit: 'binary', maxLength: 12 })), (text) => {
        expect(isBase64(text)).toBe(BASE64_PATTERN.test(text));
      }),
      { numRuns: 5000 },
    );
    for (const text of ['', 'QQ==', 'QUI=', 'QUJD', '====', 'A===', 'QQ=A', '=QQ=', 'QQ', 'QQ==QQ==', 'QUJD\n'])
      expect(isBase64(text)).toBe(BASE64_PATTERN.test(text));
    expect(isBase64('QUJD')).toBe(true);
    expect(isBase64('QQ=A')).toBe(false);
  });
});

describe('key schemas', () => {
  it('should accept keys with the right type byte and length only', () => {
    expect(EcPublicKey.safeParse(toBase64(bytes(33, 5))).success).toBe(true);
    expect(EcPublicKey.safeParse(toBase64(bytes(33, 9))).success).toBe(false);
    expect(EcPublicKey.safeParse(toBase64(bytes(32, 5))).success).toBe(false);
    expect(KyberPublicKey.safeParse(toBase64(bytes(1569, 8))).success).toBe(true);
    expect(KyberPublicKey.safeParse(toBase64(bytes(1569, 5))).success).toBe(false);
    expect(Signature.safeParse(toBase64(bytes(64))).success).toBe(true);
    expect(Signature.safeParse(toBase64(bytes(63))).success).toBe(false);
  });

  it('should refuse unknown fields and out-of-range ids', () => {
    const account = {
      secret: toBase64(bytes(32)),
      registrationId: 1,
      identityKey: toBase64(bytes(33, 5)),
      signedPreKey: { keyId: 1, publicKey: toBase64(bytes(33, 5)), signature: toBase64(bytes(64)) },
      kyberLastResortPreKey: { keyId: 1, publicKey: toBase64(bytes(1569, 8)), signature: toBase64(bytes(64)) },
    };
    expect(CreateAccountRequest.safeParse(account).success).toBe(true);
    expect(CreateAccountRequest.safeParse({ ...account, extra: 1 }).success).toBe(false);
    expect(CreateAccountRequest.safeParse({ ...account, registrationId: 16384 }).success).toBe(false);
    expect(CreateAccountRequest.safeParse({ ...account, secret: toBase64(bytes(16)) }).success).toBe(false);
    expect(CreateAccountRequest.safeParse({ ...account, username: 'a b' }).success).toBe(false);
  });

  it('should bound a send to a few devices', () => {
    const message = { destinationDeviceId: 1, destinationRegistrationId: 1, type: 'whisper', content: 'AAAA' };
    expect(SendMessagesRequest.safeParse({ timestamp: 1, messages: [message] }).success).toBe(true);
    expect(SendMessagesRequest.safeParse({ timestamp: 1, messages: [] }).success).toBe(false);
    expect(SendMessagesRequest.safeParse({ timestamp: 1, messages: [{ ...message, type: 'x' }] }).success).toBe(false);
  });
});

describe('ids', () => {
  it('should read an account id or guid in any case as its one lower-case spelling, in every schema carrying it', () => {
    fc.assert(
      fc.property(fc.uuid(), fc.array(fc.boolean(), { minLength: 36, maxLength: 36 }), (uuid, upper) => {
        const spelled = [...uuid].map((c, i) => (upper[i] ? c.toUpperCase() : c.toLowerCase())).join('');
        const canonical = uuid.toLowerCase();
        expect(AccountId.parse(spelled)).toBe(canonical);
        expect(Guid.parse(spelled)).toBe(canonical);
        expect(AckFrame.parse({ type: 'ack', guids: [spelled] }).guids).toEqual([canonical]);
        const message = {
          timestamp: 1,
          messages: [{ destinationDeviceId: 1, destinationRegistrationId: 1, type: 'whisper', content: 'AAAA' }],
        };
        expect(SendFrame.parse({ type: 'send', id: 1, destination: spelled, message }).destination).toBe(canonical);
        const auth = { type: 'auth', accountId: spelled, deviceId: 1, secret: toBase64(bytes(32)) };
        expect(AuthCredentialFrame.parse(auth).accountId).toBe(canonical);
      }),
      { numRuns: 200 },
    );
    expect(AccountId.safeParse('not-a-uuid').success).toBe(false);
  });
});

describe('frames', () => {
  it('should parse every client frame type and refuse others', () => {
    expect(ClientFrame.safeParse({ type: 'auth', ticket: 'abc' }).success).toBe(true);
    expect(ClientFrame.safeParse({ type: 'ping' }).success).toBe(true);
    expect(AckFrame.safeParse({ type: 'ack', guids: ['not-a-uuid'] }).success).toBe(false);
    expect(ClientFrame.safeParse({ type: 'nope' }).success).toBe(false);
  });
});

describe(buildOpenApiDocument.name, () => {
  it('should describe every route with JSON schemas', () => {
    const doc = buildOpenApiDocument('1.0.0') as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/v1/accounts', '/v1/keys/{accountId}/{deviceId}']));
    expect(JSON.stringify(doc.paths['/v1/messages/{accountId}'])).toContain('missingDevices');
  });
});

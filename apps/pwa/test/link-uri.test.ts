/**
 * The linking screens' pure checks: pasted or scanned text is a Cove link URI or is refused with a reason (foreign
 * schemes, look-alikes, damaged and hostile values), the short code both screens show, and typed device names made
 * fit for the core (control characters, length in UTF-8 bytes).
 */
import { describe, expect, it } from '@jest/globals';

import { MAX_DEVICE_NAME_BYTES, checkLinkUri, deviceNameOrNone, linkCodeOfUri } from '../src/app/link-uri.js';

/** A real-shaped URI: 16-byte address and a 33-byte public key starting with the 0x05 type byte, in base64url. */
const ADDRESS = 'AbCdEfGhIjKlMnOpQrSt_-';
const KEY = `BQ${'x'.repeat(34)}WXYZ9_-a`;
const URI = `cove://link?uuid=${ADDRESS}&pub_key=${KEY}`;

describe(checkLinkUri.name, () => {
  it('should accept a link URI, trimmed, and give the code the new device shows', () => {
    expect(KEY).toHaveLength(44);
    expect(checkLinkUri(`  ${URI}\n`)).toEqual({ ok: true, uri: URI, code: 'WXYZ-9_-A' });
    expect(linkCodeOfUri(URI)).toBe('WXYZ-9_-A');
    // Parameters in either order.
    expect(checkLinkUri(`cove://link?pub_key=${KEY}&uuid=${ADDRESS}`)).toMatchObject({ ok: true, uri: URI });
  });

  it('should say empty for nothing and not-link for other schemes and look-alikes', () => {
    expect(checkLinkUri('   ')).toEqual({ ok: false, error: 'empty' });
    for (const foreign of [
      `https://evil.example/link?uuid=${ADDRESS}&pub_key=${KEY}`,
      `sgnl://linkdevice?uuid=${ADDRESS}&pub_key=${KEY}`,
      `cove://chat?uuid=${ADDRESS}&pub_key=${KEY}`,
      `xcove://link?uuid=${ADDRESS}&pub_key=${KEY}`,
      'hello',
      `${URI}${'&x=1'.repeat(200)}`,
    ])
      expect(checkLinkUri(foreign)).toEqual({ ok: false, error: 'not-link' });
  });

  it('should say malformed for damaged, missing, doubled, extra or hostile parameters', () => {
    for (const damaged of [
      'cove://link?',
      `cove://link?uuid=${ADDRESS}`,
      `cove://link?uuid=${ADDRESS.slice(1)}&pub_key=${KEY}`,
      `cove://link?uuid=${ADDRESS}&pub_key=${KEY.slice(0, 43)}`,
      `cove://link?uuid=${ADDRESS}&pub_key=${KEY}&pub_key=${KEY}`,
      `cove://link?uuid=${ADDRESS}&pub_key=${KEY}&next=https://evil.example`,
      `cove://link?uuid=${ADDRESS}&pub_key=A${KEY.slice(1)}`,
      `cove://link?uuid=${ADDRESS}&pub_key=${KEY.slice(0, 40)}%3Cb%3E`,
      `cove://link?uuid=<script>alert(1)</script>&pub_key=${KEY}`,
      `cove://link?uuid=${ADDRESS}&pub_key=${KEY}\u0000`,
      `cove://link?uuid=${ADDRESS}&&pub_key=${KEY}`,
    ])
      expect(checkLinkUri(damaged)).toEqual({ ok: false, error: 'malformed' });
    expect(linkCodeOfUri('cove://link?uuid=x')).toBe('');
  });
});

describe(deviceNameOrNone.name, () => {
  it('should trim, replace control characters and leave nothing as no name', () => {
    expect(deviceNameOrNone('  Work laptop ')).toBe('Work laptop');
    expect(deviceNameOrNone('a\u0000b\nc\u0085d')).toBe('a b c d');
    expect(deviceNameOrNone(' \t\n ')).toBeUndefined();
  });

  it('should cut to the core limit in UTF-8 bytes without splitting a character', () => {
    const name = deviceNameOrNone('手'.repeat(60));
    expect(name).toBe('手'.repeat(33));
    expect(new TextEncoder().encode(name).length).toBeLessThanOrEqual(MAX_DEVICE_NAME_BYTES);
    expect(deviceNameOrNone('😀'.repeat(30))).toBe('😀'.repeat(25));
  });
});

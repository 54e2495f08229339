/**
 * Attachments as the PWA shows them (view-data.ts) and says them in notifications (notification-text.ts): hostile
 * pointer values — huge or negative dimensions and sizes, odd or overlong content types, `javascript:` and control
 * characters in file names, thumbnails that are not images — become bounded, neutral view data; the kinds and the
 * "Photo" / "Voice message" / file-name texts in English and Chinese; the app's auto-download threshold is the
 * core's.
 */
import { describe, expect, it } from '@jest/globals';
import { AUTO_DOWNLOAD_MAX_BYTES as CORE_AUTO_DOWNLOAD } from '@cove/client';
import { AUTO_DOWNLOAD_MAX_BYTES, safeContentType, thumbnailUrl, toChatMessage } from '../src/app/view-data.js';
import { notificationBody, notificationStrings } from '../src/platform/sw/notification-text.js';

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0]);

const pointer = (fields: Record<string, unknown>) => ({
  storageId: 's1',
  key: new Uint8Array(32),
  digest: new Uint8Array(32),
  paddedSize: 1000,
  plainSize: 900,
  contentType: 'image/jpeg',
  fileName: 'a.jpg',
  width: 640,
  height: 480,
  thumbnail: JPEG,
  durationMs: null,
  waveform: null,
  voiceNote: false,
  caption: null,
  blobId: 'b1',
  state: 'remote',
  error: null,
  ...fields,
});

const message = (attachments: unknown) => ({
  direction: 'incoming',
  text: '',
  timestamp: 1,
  status: 'received',
  attachments,
});

describe('attachment view data', () => {
  it('should use the core auto-download threshold', () => {
    expect(AUTO_DOWNLOAD_MAX_BYTES).toBe(CORE_AUTO_DOWNLOAD);
  });

  it('should tell photos, voice notes, files and text apart', () => {
    expect(toChatMessage('k', message([pointer({})]), 'c').kind).toBe('image');
    expect(toChatMessage('k', message([pointer({ contentType: 'audio/webm', voiceNote: true })]), 'c').kind).toBe(
      'voice',
    );
    expect(toChatMessage('k', message([pointer({ contentType: 'application/pdf' })]), 'c').kind).toBe('file');
    // An SVG is never rendered as a photo (it could carry script in other contexts): a file card.
    expect(toChatMessage('k', message([pointer({ contentType: 'image/svg+xml' })]), 'c').kind).toBe('file');
    expect(toChatMessage('k', message(undefined), 'c').kind).toBe('text');
    expect(toChatMessage('k', message('not a list'), 'c').kind).toBe('text');
  });

  it('should bound hostile pointer values', () => {
    const [a] =
      toChatMessage(
        'k',
        message([
          pointer({
            width: 1e12,
            height: -5,
            plainSize: Number.MAX_VALUE,
            contentType: 'text/html; charset=utf-8\u0000<script>',
            fileName: 'javascript:alert(1)\u202egpj.exe\n',
            thumbnail: new TextEncoder().encode('<svg onload=alert(1)>'),
            state: 'weird',
            durationMs: Number.NaN,
          }),
        ]),
        'c',
      ).attachments ?? [];
    expect(a).toBeDefined();
    expect(a?.width).toBeNull();
    expect(a?.height).toBeNull();
    expect(a?.size).toBe(0);
    expect(a?.contentType).toBe('text/html');
    expect(a?.kind).toBe('file');
    // The name is only text: control and bidi characters gone, and nothing makes it a link.
    expect(a?.fileName).toBe('javascript:alert(1)gpj.exe');
    expect(a?.thumbnail).toBeNull();
    expect(a?.state).toBe('remote');
    expect(a?.durationMs).toBeNull();
    expect(a?.autoDownload).toBe(true);
  });

  it('should accept only well-formed content types and image thumbnails', () => {
    expect(safeContentType('IMAGE/PNG')).toBe('image/png');
    expect(safeContentType('x'.repeat(200))).toBe('application/octet-stream');
    expect(safeContentType('no slash')).toBe('application/octet-stream');
    expect(safeContentType(42)).toBe('application/octet-stream');
    expect(thumbnailUrl(JPEG)).toMatch(/^data:image\/jpeg;base64,/);
    expect(thumbnailUrl(new Uint8Array(3))).toBeNull();
    expect(thumbnailUrl('data:text/html,x')).toBeNull();
  });

  it('should mark a failed digest check as unverified', () => {
    const [a] =
      toChatMessage('k', message([pointer({ state: 'failed', error: 'attachment_unverified' })]), 'c').attachments ??
      [];
    expect(a?.state).toBe('failed');
    expect(a?.error).toBe('unverified');
  });

  it('should cap the attachments shown at the pointer bound', () => {
    expect(toChatMessage('k', message(Array.from({ length: 40 }, () => pointer({}))), 'c').attachments).toHaveLength(
      32,
    );
  });
});

describe('notification body', () => {
  const en = notificationStrings('en', []);
  const zh = notificationStrings('zh-CN', []);
  it('should name photos, voice notes and files, in English and Chinese', () => {
    expect(notificationBody({ text: '', attachment: { kind: 'image', fileName: 'x.jpg' } }, en)).toBe('📷 Photo');
    expect(notificationBody({ text: '', attachment: { kind: 'image', fileName: null } }, zh)).toBe('📷 照片');
    expect(notificationBody({ text: '', attachment: { kind: 'voice', fileName: null } }, en)).toBe('🎤 Voice message');
    expect(notificationBody({ text: '', attachment: { kind: 'voice', fileName: null } }, zh)).toBe('🎤 语音消息');
    expect(notificationBody({ text: '', attachment: { kind: 'file', fileName: 'report.pdf' } }, en)).toBe(
      '📎 report.pdf',
    );
    expect(notificationBody({ text: 'look', attachment: { kind: 'image', fileName: null } }, en)).toBe('look');
    expect(notificationBody({ text: 'hi', attachment: null }, en)).toBe('hi');
  });

  it('should keep control characters and overlong names out', () => {
    const body = notificationBody(
      { text: '', attachment: { kind: 'file', fileName: `a\u202e\u0007${'x'.repeat(500)}` } },
      en,
    );
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
    expect(body).not.toMatch(/[\u0000-\u001f\u202e]/);
    expect(body.length).toBeLessThan(100);
  });
});

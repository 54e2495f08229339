/**
 * Attachment pointers inside a data message: round trips (every field, and the minimal pointer), unchanged bytes
 * for messages without attachments, and every bound refused with a ContentError whose `reason` says why, both when
 * encoding and when a hostile sender puts the value on the wire (written here with the generated encoder, which
 * bounds nothing).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';

import {
  ContentError,
  MAX_ATTACHMENTS,
  MAX_CAPTION_CHARS,
  MAX_DURATION_MS,
  MAX_FILE_NAME_CHARS,
  MAX_THUMBNAIL_BYTES,
  MAX_WAVEFORM_BYTES,
  decodeContent,
  encodeContent,
} from '../../src/content/index.js';
import type { AttachmentPointer, Content, ContentErrorReason } from '../../src/content/index.js';
import * as pb from '../../src/content/generated/content_pb.js';

const TIMESTAMP = 1_764_000_000_123;
const GiB = 1024 * 1024 * 1024;

const minimal: AttachmentPointer = {
  storageId: 'aZ09_-x',
  key: new Uint8Array(32).fill(7),
  digest: new Uint8Array(32).fill(9),
  paddedSize: 541,
  plainSize: 0,
  contentType: 'application/octet-stream',
};

const full: AttachmentPointer = {
  storageId: 'A'.repeat(128),
  key: Uint8Array.from({ length: 32 }, (_, i) => i),
  digest: Uint8Array.from({ length: 32 }, (_, i) => 255 - i),
  paddedSize: 2 * GiB,
  plainSize: 2 * GiB - 1,
  contentType: 'audio/ogg; codecs=opus',
  fileName: 'Voice 2026-12-06 😀 語音.ogg',
  width: 65_535,
  height: 1,
  thumbnail: new Uint8Array(MAX_THUMBNAIL_BYTES).fill(1),
  blurhash: 'LEHV6nWB2yk8pyo0adR*.7kCMdnj',
  durationMs: MAX_DURATION_MS,
  waveform: new Uint8Array(MAX_WAVEFORM_BYTES).fill(200),
  voiceNote: true,
  caption: '🎉'.repeat(MAX_CAPTION_CHARS),
};

const withAttachments = (attachments: AttachmentPointer[], text = ''): Content => ({
  kind: 'data',
  data: { text, timestamp: TIMESTAMP, attachments },
});

/** Hostile bytes: the generated encoder writes whatever it is given. */
type PointerInit = MessageInitShape<typeof pb.AttachmentPointerSchema>;

const wire = (pointers: PointerInit[]): Uint8Array =>
  toBinary(
    pb.ContentSchema,
    create(pb.ContentSchema, {
      version: 1,
      body: {
        case: 'dataMessage',
        value: create(pb.DataMessageSchema, {
          text: '',
          timestamp: BigInt(TIMESTAMP),
          attachments: pointers.map((p) => create(pb.AttachmentPointerSchema, p)),
        }),
      },
    }),
  );

const wireOf = (p: AttachmentPointer): PointerInit => ({
  ...p,
  paddedSize: BigInt(p.paddedSize),
  plainSize: BigInt(p.plainSize),
});

const reasonOf = (fn: () => unknown): ContentErrorReason | null => {
  try {
    fn();
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(ContentError);
    return (error as ContentError).reason;
  }
};

describe('AttachmentPointer', () => {
  it('should round-trip a message with a full and a minimal pointer', () => {
    const content = withAttachments([full, minimal], 'look');
    expect(decodeContent(encodeContent(content))).toEqual(content);
  });

  it('should decode what the generated encoder writes from the same values', () => {
    expect(decodeContent(wire([wireOf(full), wireOf(minimal)]))).toEqual(withAttachments([full, minimal]));
  });

  it('should leave messages without attachments byte-identical and decode them without the field', () => {
    const plain: Content = { kind: 'data', data: { text: 'hi', timestamp: TIMESTAMP } };
    const empty: Content = { kind: 'data', data: { text: 'hi', timestamp: TIMESTAMP, attachments: [] } };
    expect(encodeContent(empty)).toEqual(encodeContent(plain));
    expect(decodeContent(encodeContent(empty))).toEqual(plain);
  });

  it('should accept 32 attachments and refuse 33 on encode and on the wire', () => {
    const many = Array.from({ length: MAX_ATTACHMENTS }, () => minimal);
    expect(decodeContent(encodeContent(withAttachments(many)))).toEqual(withAttachments(many));
    expect(reasonOf(() => encodeContent(withAttachments([...many, minimal])))).toBe('too_large');
    expect(reasonOf(() => decodeContent(wire(Array.from({ length: 33 }, () => wireOf(minimal)))))).toBe('too_large');
  });

  const hostile: [string, Partial<AttachmentPointer>, ContentErrorReason][] = [
    ['an empty storage id', { storageId: '' }, 'invalid_format'],
    ['a storage id with a path', { storageId: '../secret' }, 'invalid_format'],
    ['a storage id of 129 characters', { storageId: 'a'.repeat(129) }, 'invalid_format'],
    ['a 31-byte key', { key: new Uint8Array(31) }, 'invalid_format'],
    ['a 33-byte key', { key: new Uint8Array(33) }, 'too_large'],
    ['no digest', { digest: new Uint8Array(0) }, 'invalid_format'],
    ['a 64-byte digest', { digest: new Uint8Array(64) }, 'too_large'],
    ['padded size 0', { paddedSize: 0 }, 'out_of_range'],
    ['padded size above 2 GiB', { paddedSize: 2 * GiB + 1, plainSize: 0 }, 'out_of_range'],
    ['plain size above padded size', { paddedSize: 1000, plainSize: 1001 }, 'out_of_range'],
    ['no content type', { contentType: '' }, 'invalid_format'],
    ['a content type without subtype', { contentType: 'image' }, 'invalid_format'],
    ['a content type with a newline', { contentType: 'text/plain\r\nX: y' }, 'invalid_format'],
    ['a content type of 256 bytes', { contentType: `text/${'a'.repeat(251)}` }, 'too_large'],
    ['a file name of 256 characters', { fileName: '語'.repeat(MAX_FILE_NAME_CHARS + 1) }, 'too_large'],
    ['a file name with a slash', { fileName: 'a/b.txt' }, 'invalid_format'],
    ['a file name with a backslash', { fileName: '..\\b.txt' }, 'invalid_format'],
    ['the file name ".."', { fileName: '..' }, 'invalid_format'],
    ['a file name with NUL', { fileName: 'a\u0000.txt' }, 'invalid_format'],
    ['a file name with a C1 control', { fileName: 'a\u0085.txt' }, 'invalid_format'],
    ['a file name with a right-to-left override', { fileName: 'photo\u202Egpj.exe' }, 'invalid_format'],
    ['a file name with a bidi isolate', { fileName: 'photo\u2067gpj.exe' }, 'invalid_format'],
    ['a width above 65,535', { width: 65_536 }, 'out_of_range'],
    ['a height above 65,535', { height: 1_000_000 }, 'out_of_range'],
    ['a thumbnail of 64 KiB + 1', { thumbnail: new Uint8Array(MAX_THUMBNAIL_BYTES + 1) }, 'too_large'],
    ['a blurhash too short', { blurhash: 'abc' }, 'invalid_format'],
    ['a blurhash of 167 characters', { blurhash: 'a'.repeat(167) }, 'invalid_format'],
    ['a blurhash outside base 83', { blurhash: 'LEHV6nWB2yk8 pyo0' }, 'invalid_format'],
    ['a duration above 31 days', { durationMs: MAX_DURATION_MS + 1 }, 'out_of_range'],
    ['a waveform of 1 KiB + 1', { waveform: new Uint8Array(MAX_WAVEFORM_BYTES + 1) }, 'too_large'],
    ['a voice note that is not audio', { voiceNote: true, contentType: 'image/jpeg' }, 'invalid_format'],
    ['a caption of 2,001 characters', { caption: '🎉'.repeat(MAX_CAPTION_CHARS + 1) }, 'too_large'],
  ];

  it.each(hostile)('should refuse %s on encode and on the wire', (_, change, reason) => {
    const pointer: AttachmentPointer = { ...minimal, ...change };
    expect(reasonOf(() => encodeContent(withAttachments([minimal, pointer])))).toBe(reason);
    expect(reasonOf(() => decodeContent(wire([wireOf(minimal), wireOf(pointer)])))).toBe(reason);
  });

  it('should name the attachment index and never its key in a refusal', () => {
    const pointer = { ...minimal, fileName: 'a/b' };
    expect(() => encodeContent(withAttachments([minimal, pointer]))).toThrow(/attachments\[1\]\.fileName/);
  });

  it('should refuse sizes past 2^53 on the wire as out of range', () => {
    const p = { ...wireOf(minimal), paddedSize: 2n ** 60n };
    expect(reasonOf(() => decodeContent(wire([p])))).toBe('out_of_range');
  });

  it('should refuse wrong types passed to the encoder', () => {
    const bad: Partial<Record<keyof AttachmentPointer, unknown>>[] = [
      { key: 'k'.repeat(32) },
      { paddedSize: 1.5 },
      { plainSize: -1 },
      { voiceNote: 'yes' },
      { fileName: 42 },
      { thumbnail: [1, 2] },
    ];
    for (const change of bad)
      expect(() => encodeContent(withAttachments([{ ...minimal, ...change } as AttachmentPointer]))).toThrow(
        ContentError,
      );
    expect(() =>
      encodeContent({ kind: 'data', data: { text: '', timestamp: 1, attachments: 'x' as unknown as [] } }),
    ).toThrow(ContentError);
  });

  it('should decode arbitrary valid pointers back to themselves', () => {
    const pointer = fc.record({
      storageId: fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
      key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      digest: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      paddedSize: fc.integer({ min: 1, max: 2 * GiB }),
      contentType: fc.constantFrom('image/png', 'video/mp4', 'application/pdf'),
      caption: fc.string({ minLength: 1, maxLength: 50 }),
      width: fc.integer({ min: 1, max: 65_535 }),
    });
    fc.assert(
      fc.property(pointer, fc.nat(), (p, n) => {
        const value: AttachmentPointer = { ...p, plainSize: n % (p.paddedSize + 1) };
        expect(decodeContent(encodeContent(withAttachments([value])))).toEqual(withAttachments([value]));
      }),
      { numRuns: 200 },
    );
  });
});

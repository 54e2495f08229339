/**
 * Holds the Content codec to what it did before: `fixtures/content-encodings.json` has the bytes the hand-written
 * codec wrote for every kind of Content (each must still encode to exactly those bytes and decode to the same value),
 * and `fixtures/content-decodings.json` has its verdict on 1,400 valid, mutated, hostile and protobuf-shaped inputs
 * (the same content accepted, or a refusal with the same reason). See fixtures/record-content-fixtures.ts.
 */
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';

import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { describe, expect, it } from '@jest/globals';

import { ContentError, decodeContent, encodeContent } from '../../src/content/index.js';
import type { Content, ContentErrorReason } from '../../src/content/index.js';

type Encoding = { name: string; content: Content; hex: string; decoded: Content };
type Decoding = { hex: string; serverTimestamp?: number } & ({ content: Content } | { reason: ContentErrorReason });

const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as T;
const encodings = fixture<Encoding[]>('content-encodings.json');
const decodings = fixture<Decoding[]>('content-decodings.json');
const bytes = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const hex = (value: Uint8Array): string => Buffer.from(value).toString('hex');

/** What decoding gives: the content, or the reason of the ContentError (any other error fails the test). */
const verdict = (input: Uint8Array, serverTimestamp?: number): { content: Content } | { reason: string } => {
  try {
    return { content: decodeContent(input, serverTimestamp === undefined ? undefined : { serverTimestamp }) };
  } catch (error) {
    expect(error).toBeInstanceOf(ContentError);
    return { reason: (error as ContentError).reason };
  }
};

/** Content fields added after the corpus was recorded (reaction, delete, edit, profile key update). */
const NEW_BODIES = new Set([7, 8, 9, 10]);
/** The data message body, and its field added after the corpus was recorded (profile key). */
const DATA_MESSAGE = 2;
const NEW_DATA_FIELDS = new Set([7]);

/** Whether `input` holds one of `fields` at its top level, or (`inner`) in a data message (as far as it parses). */
const holdsField = (input: Uint8Array, fields: Set<number>, inner?: Set<number>): boolean => {
  const reader = new BinaryReader(input);
  try {
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (fields.has(field)) return true;
      if (inner && field === DATA_MESSAGE && wireType === WireType.LengthDelimited) {
        if (holdsField(reader.bytes(), inner)) return true;
        continue;
      }
      reader.skip(wireType, field);
    }
  } catch {
    return false;
  }
  return false;
};
const holdsNewBody = (input: Uint8Array): boolean => holdsField(input, NEW_BODIES, NEW_DATA_FIELDS);

describe('Content compatibility with the saved encodings', () => {
  it.each(encodings.map((e) => [e.name, e] as const))('should encode and decode %s as before', (_name, saved) => {
    expect(hex(encodeContent(saved.content))).toBe(saved.hex);
    expect(decodeContent(bytes(saved.hex))).toEqual(saved.decoded);
  });

  it('should cover every kind of content', () => {
    const kinds = new Set(encodings.map((e) => e.content.kind));
    expect([...kinds].sort()).toEqual(['data', 'null', 'receipt', 'retry', 'typing']);
  });

  it('should give the saved verdict on every input of the corpus', () => {
    const differences: string[] = [];
    let renamed = 0;
    for (const saved of decodings) {
      const { hex: input, serverTimestamp, ...expected } = saved;
      // Content fields 7-10 (and data message field 7) were unknown (skipped) when the corpus was recorded and are now
      // the reaction, delete, edit and profile key bodies (and the profile key): an input holding one is no longer
      // the same question.
      if (holdsNewBody(bytes(input))) {
        renamed += 1;
        continue;
      }
      const actual = verdict(bytes(input), serverTimestamp);
      if (!isDeepStrictEqual(actual, expected))
        differences.push(`${input} @${serverTimestamp}: ${JSON.stringify(expected)} -> ${JSON.stringify(actual)}`);
    }
    expect(differences).toEqual([]);
    // Mutated inputs that happened to hold those fields (107 of 1,400): the corpus still answers for the rest.
    expect(renamed).toBeLessThan(140);
    expect(decodings.filter((d) => 'content' in d).length).toBeGreaterThan(250);
    expect(decodings.length).toBe(1400);
  });
});

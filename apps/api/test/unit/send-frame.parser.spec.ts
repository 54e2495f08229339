/**
 * The hand-written `send` and `ack` frame checks against the schemas they stand in for: on ordinary frames it
 * answers (the fast path is taken) with exactly the schema's value, and on every hostile or malformed variant it
 * either gives the schema's value or stays out (the schema then refuses with its own error). Never accepts what
 * the schema refuses. The refusals on a real socket are the contract suite's.
 */
import { describe, expect, it } from '@jest/globals';
import { AckFrame, SendFrame } from '@cove/protocol';

import { parseAckFrame, parseSendFrame } from '../../src/services/send-frame.parser.js';

const DESTINATION = '3f2b8c1e-9a4d-4e6f-8b2a-1c3d5e7f9a0b';
const CONTENT = Buffer.alloc(300, 7).toString('base64');

function frame(): Record<string, unknown> {
  return {
    type: 'send',
    id: 42,
    destination: DESTINATION,
    message: {
      timestamp: 1_765_000_000_000,
      messages: [{ destinationDeviceId: 1, destinationRegistrationId: 1234, type: 'whisper', content: CONTENT }],
    },
  };
}

type Mutation = [string, (f: Record<string, any>) => void];

/** Variants: valid ones the fast path should take, and hostile ones it must never accept unless the schema does. */
const MUTATIONS: Mutation[] = [
  ['as is', () => undefined],
  ['string id', (f) => (f.id = 'req-1')],
  ['upper-case destination', (f) => (f.destination = DESTINATION.toUpperCase())],
  ['urgent false', (f) => (f.message.urgent = false)],
  ['notice true', (f) => (f.message.notice = true)],
  ['two devices', (f) => f.message.messages.push({ ...f.message.messages[0], destinationDeviceId: 2 })],
  ['prekey', (f) => (f.message.messages[0].type = 'prekey')],
  ['padded content', (f) => (f.message.messages[0].content = 'AAE=')],
  ['id 0', (f) => (f.id = 0)],
  ['nil uuid', (f) => (f.destination = '00000000-0000-0000-0000-000000000000')],
  // Hostile or malformed.
  ['extra frame key', (f) => (f.extra = 1)],
  ['__proto__ key', (f) => Object.defineProperty(f, '__proto__', { value: {}, enumerable: true })],
  ['extra message key', (f) => (f.message.extra = true)],
  ['extra outgoing key', (f) => (f.message.messages[0].extra = 'x')],
  ['missing id', (f) => delete f.id],
  ['negative id', (f) => (f.id = -1)],
  ['fractional id', (f) => (f.id = 1.5)],
  ['unsafe id', (f) => (f.id = 2 ** 60)],
  ['empty string id', (f) => (f.id = '')],
  ['long string id', (f) => (f.id = 'x'.repeat(65))],
  ['null id', (f) => (f.id = null)],
  ['destination not a uuid', (f) => (f.destination = 'not-a-uuid')],
  ['destination braces', (f) => (f.destination = `{${DESTINATION}}`)],
  ['destination version 0', (f) => (f.destination = '3f2b8c1e-9a4d-0e6f-8b2a-1c3d5e7f9a0b')],
  ['destination with newline', (f) => (f.destination = `${DESTINATION}\n`)],
  ['destination a number', (f) => (f.destination = 5)],
  ['message an array', (f) => (f.message = [])],
  ['message null', (f) => (f.message = null)],
  ['missing timestamp', (f) => delete f.message.timestamp],
  ['string timestamp', (f) => (f.message.timestamp = '1')],
  ['negative timestamp', (f) => (f.message.timestamp = -5)],
  ['urgent a string', (f) => (f.message.urgent = 'yes')],
  ['notice null', (f) => (f.message.notice = null)],
  ['no messages', (f) => (f.message.messages = [])],
  ['messages an object', (f) => (f.message.messages = { 0: f.message.messages[0] })],
  ['nine devices', (f) => (f.message.messages = Array.from({ length: 9 }, () => f.message.messages[0]))],
  ['device 0', (f) => (f.message.messages[0].destinationDeviceId = 0)],
  ['device 128', (f) => (f.message.messages[0].destinationDeviceId = 128)],
  ['registration id 16384', (f) => (f.message.messages[0].destinationRegistrationId = 16384)],
  ['registration id as string', (f) => (f.message.messages[0].destinationRegistrationId = '5')],
  ['senderkey type', (f) => (f.message.messages[0].type = 'senderkey')],
  ['unknown type', (f) => (f.message.messages[0].type = 'plaintext')],
  ['empty content', (f) => (f.message.messages[0].content = '')],
  ['url-safe base64', (f) => (f.message.messages[0].content = 'ab-_')],
  ['unpadded base64', (f) => (f.message.messages[0].content = 'AAE')],
  ['whitespace in base64', (f) => (f.message.messages[0].content = 'AAAA\nAAAA')],
  ['too large content', (f) => (f.message.messages[0].content = 'A'.repeat(4 * 21846 + 4))],
  ['content a number', (f) => (f.message.messages[0].content = 12)],
  ['missing content', (f) => delete f.message.messages[0].content],
  ['outgoing null', (f) => (f.message.messages[0] = null)],
  ['type ack', (f) => (f.type = 'ack')],
];

const VALID = new Set([
  'as is',
  'string id',
  'upper-case destination',
  'urgent false',
  'notice true',
  'two devices',
  'prekey',
  'padded content',
  'id 0',
  'nil uuid',
]);

describe('send frame check', () => {
  it.each(MUTATIONS)('%s: gives the schema’s value or leaves the frame to the schema', (name, mutate) => {
    const f = frame();
    mutate(f);
    const schema = SendFrame.safeParse(JSON.parse(JSON.stringify(f)));
    const fast = parseSendFrame(JSON.parse(JSON.stringify(f)));
    if (VALID.has(name)) {
      expect(schema.success).toBe(true);
      // The ordinary frames take the fast path, and get exactly what the schema gives.
      expect(fast).toEqual(schema.data);
    } else {
      expect(schema.success).toBe(false);
      expect(fast).toBeUndefined();
    }
  });

  it('should lower-case the destination as the schema does', () => {
    const f = frame();
    f.destination = DESTINATION.toUpperCase();
    expect(parseSendFrame(f)?.destination).toBe(DESTINATION);
  });

  it('should never accept what the schema refuses, over random corruptions of a valid frame', () => {
    let seed = 17;
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    const values: unknown[] = [null, true, 0, -1, 1.5, 2 ** 53, '', 'x', 'A===', [], {}, 'whisper', 1, 127, 128];
    for (let i = 0; i < 2000; i++) {
      const f = frame();
      const targets: Array<Record<string, unknown>> = [
        f,
        f.message as Record<string, unknown>,
        ((f.message as Record<string, unknown>).messages as Array<Record<string, unknown>>)[0] as Record<
          string,
          unknown
        >,
      ];
      const target = targets[random(targets.length)] as Record<string, unknown>;
      const keys = [...Object.keys(target), 'extra'];
      target[keys[random(keys.length)] as string] = values[random(values.length)];
      const schema = SendFrame.safeParse(JSON.parse(JSON.stringify(f)));
      const fast = parseSendFrame(JSON.parse(JSON.stringify(f)));
      if (fast !== undefined) {
        expect(schema.success).toBe(true);
        expect(fast).toEqual(schema.data);
      }
    }
  });
});

describe('ack frame check', () => {
  const GUID = '0b9f3c2a-7d41-4e8a-9c6b-2f1e3d4c5b6a';
  const CASES: Array<[string, unknown, boolean]> = [
    ['one guid', { type: 'ack', guids: [GUID] }, true],
    ['upper-case guids', { type: 'ack', guids: [GUID.toUpperCase(), GUID] }, true],
    ['a hundred guids', { type: 'ack', guids: Array.from({ length: 100 }, () => GUID) }, true],
    ['no guids', { type: 'ack', guids: [] }, false],
    ['101 guids', { type: 'ack', guids: Array.from({ length: 101 }, () => GUID) }, false],
    ['a guid not a uuid', { type: 'ack', guids: [GUID, 'nope'] }, false],
    ['a guid a number', { type: 'ack', guids: [5] }, false],
    ['guids a string', { type: 'ack', guids: GUID }, false],
    ['extra key', { type: 'ack', guids: [GUID], id: 1 }, false],
    ['guid with a newline', { type: 'ack', guids: [`${GUID}\n`] }, false],
    ['type send', { type: 'send', guids: [GUID] }, false],
  ];

  it.each(CASES)('%s: gives the schema’s value or leaves the frame to the schema', (_, frame, valid) => {
    const schema = AckFrame.safeParse(JSON.parse(JSON.stringify(frame)));
    const fast = parseAckFrame(JSON.parse(JSON.stringify(frame)));
    expect(schema.success).toBe(valid);
    if (valid) expect(fast).toEqual(schema.data);
    else expect(fast).toBeUndefined();
  });
});

/**
 * Unit tests of the structural sharing the views use on reload (ui/shared-structure.ts): equal data keeps the old
 * objects, a history page shifted by a new message keeps its unchanged rows, and anything else counts as changed.
 */
import { describe, expect, it } from '@jest/globals';
import { sameData, shareStructure } from '../src/ui/shared-structure.js';

describe('sameData', () => {
  it('should compare plain data deeply, bytes by value, and other objects by identity', () => {
    expect(sameData({ a: [1, { b: 'x' }], c: null }, { a: [1, { b: 'x' }], c: null })).toBe(true);
    expect(sameData({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(sameData([1, 2], [2, 1])).toBe(false);
    expect(sameData(new Uint8Array([1, 2]), new Uint8Array([1, 2]))).toBe(true);
    expect(sameData(new Uint8Array([1, 2]), new Uint8Array([1, 3]))).toBe(false);
    expect(sameData(NaN, NaN)).toBe(true);
    const blob = new Map([['k', 1]]);
    expect(sameData(blob, blob)).toBe(true);
    expect(sameData(new Map([['k', 1]]), new Map([['k', 1]]))).toBe(false);
  });
});

describe('shareStructure', () => {
  it('should return the previous value when a reload is equal', () => {
    const previous = [{ id: 'c/1', text: 'hi' }];
    expect(shareStructure(previous, [{ id: 'c/1', text: 'hi' }])).toBe(previous);
    expect(shareStructure(undefined, previous)).toBe(previous);
  });

  it('should keep unchanged rows of a page that a new message shifted, and take changed ones', () => {
    const one = { id: 'c/1', text: 'one', status: 'sent' };
    const two = { id: 'c/2', text: 'two', status: 'sending' };
    const next = shareStructure(
      [two, one],
      [
        { id: 'c/3', text: 'three', status: 'sending' },
        { id: 'c/2', text: 'two', status: 'sent' },
        { id: 'c/1', text: 'one', status: 'sent' },
      ],
    );
    expect(next).toEqual([
      { id: 'c/3', text: 'three', status: 'sending' },
      { id: 'c/2', text: 'two', status: 'sent' },
      { id: 'c/1', text: 'one', status: 'sent' },
    ]);
    expect(next[2]).toBe(one);
    expect(next[1]).not.toBe(two);
  });

  it('should never reuse a row for another id, nor anything that is not an array of rows', () => {
    const previous = [{ id: 'a', v: 1 }];
    const next = [{ id: 'b', v: 1 }];
    expect(shareStructure(previous, next)[0]).toBe(next[0]);
    const object = { x: 1 };
    expect(shareStructure({ x: 2 }, object)).toBe(object);
  });
});

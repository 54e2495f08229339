/**
 * Unit tests of the pure parts of voice notes and emoji: the waveform computed from samples (64 bars, normalised,
 * total over hostile samples), the voice note read from a stored message (any malformed value gives none or a
 * neutral field, never a crash), and which texts count as emoji-only (shown large).
 */
import { describe, expect, it } from '@jest/globals';
import { voiceNoteOf } from '../src/app/voice-data.js';
import { mixDown, WAVEFORM_BARS, waveformOf } from '../src/platform/voice-waveform.js';
import { emojiOnlyCount, isLargeEmoji } from '../src/ui/emoji-only.js';

describe('waveformOf', () => {
  it('should give 64 bars, the loudest 255, following the loudness of the samples', () => {
    const samples = new Float32Array(48_000);
    for (let i = 0; i < samples.length; i += 1) samples[i] = (i / samples.length) * Math.sin(i / 5);
    const bars = waveformOf(samples);
    expect(bars.length).toBe(WAVEFORM_BARS);
    expect(Math.max(...bars)).toBe(255);
    expect(bars[0]!).toBeLessThan(bars[32]!);
    expect(bars[32]!).toBeLessThan(bars[63]!);
  });

  it('should give silence for silence, nothing, or non-finite samples, and zeros past too few samples', () => {
    expect([...waveformOf(new Float32Array(1000))]).toEqual(new Array(64).fill(0));
    expect([...waveformOf([])]).toEqual(new Array(64).fill(0));
    expect([...waveformOf([NaN, Infinity, -Infinity])]).toEqual(new Array(64).fill(0));
    const few = waveformOf([0.5, 0.5], 4);
    expect([...few]).toEqual([0, 255, 0, 255]);
  });

  it('should mix channels down to their mean', () => {
    expect([...mixDown([new Float32Array([1, 0]), new Float32Array([0, 1])])]).toEqual([0.5, 0.5]);
    expect(mixDown([]).length).toBe(0);
  });
});

describe('voiceNoteOf', () => {
  const voice = {
    voiceNote: true,
    contentType: 'audio/webm',
    durationMs: 2_100,
    waveform: new Uint8Array([0, 128, 255]),
    state: 'local',
  };

  it('should read the first voice attachment', () => {
    expect(voiceNoteOf([{ voiceNote: false, contentType: 'image/png' }, voice])).toEqual({
      index: 1,
      durationMs: 2_100,
      waveform: [0, 128, 255],
      contentType: 'audio/webm',
      state: 'local',
    });
  });

  it('should give no voice note for non-audio, missing flags or non-arrays', () => {
    expect(voiceNoteOf(undefined)).toBeUndefined();
    expect(voiceNoteOf('x')).toBeUndefined();
    expect(voiceNoteOf([{ ...voice, contentType: 'image/png' }])).toBeUndefined();
    expect(voiceNoteOf([{ ...voice, voiceNote: 'yes' }])).toBeUndefined();
    expect(voiceNoteOf([null, 3])).toBeUndefined();
  });

  it('should neutralise hostile durations, waveforms and states', () => {
    for (const durationMs of [-1, 0, 1.5, NaN, 1e15, '2000', null])
      expect(voiceNoteOf([{ ...voice, durationMs }])?.durationMs).toBeNull();
    for (const waveform of [new Uint8Array(2000), [300], [-1], ['a'], 'abc', null])
      expect(voiceNoteOf([{ ...voice, waveform }])?.waveform).toEqual([]);
    expect(voiceNoteOf([{ ...voice, state: 'hacked' }])?.state).toBe('remote');
  });
});

describe('emoji-only messages', () => {
  it('should count one to three emoji (graphemes: families, flags, skin tones, keycaps) as large', () => {
    for (const text of ['😀', '👍🏽', '👨‍👩‍👧‍👦', '🇨🇳', '1️⃣', '❤️', '😀 😂 🚀', ' 🎉 ']) expect(isLargeEmoji(text)).toBe(true);
    expect(emojiOnlyCount('👨‍👩‍👧‍👦🇨🇳')).toBe(2);
  });

  it('should not count text, four or more emoji, digits alone or an empty text', () => {
    for (const text of ['', ' ', 'hi 😀', '😀😀😀😀', '1', '#', '你好', '😀.']) expect(isLargeEmoji(text)).toBe(false);
  });
});

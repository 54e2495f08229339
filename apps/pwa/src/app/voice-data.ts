/**
 * The voice note of a stored message, as the player shows it: the first attachment carrying the voice flag and an
 * audio content type, its duration (a positive whole number of milliseconds up to the pointer's bound, else null),
 * its waveform bars (bytes; anything else gives none) and its download state. Any other value gives no voice note,
 * so a malformed record renders as a plain message. Pure; reads nothing itself.
 */
import type { VoiceNote } from './model.js';

/** The pointer's bound on `duration_ms` (31 days, docs/attachments.md); a longer value names no real recording. */
const MAX_DURATION_MS = 31 * 24 * 3600 * 1000;
/** The pointer's bound on the waveform (1 KiB). */
const MAX_WAVEFORM_BYTES = 1024;
const STATES: ReadonlySet<string> = new Set(['remote', 'local', 'failed']);

type Loose = Record<string, unknown>;

const isRecord = (value: unknown): value is Loose => value !== null && typeof value === 'object';

function bars(value: unknown): number[] {
  if (value instanceof Uint8Array) return value.length <= MAX_WAVEFORM_BYTES ? Array.from(value) : [];
  if (
    Array.isArray(value) &&
    value.length <= MAX_WAVEFORM_BYTES &&
    value.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 255)
  )
    return value as number[];
  return [];
}

export function voiceNoteOf(attachments: unknown): VoiceNote | undefined {
  if (!Array.isArray(attachments)) return undefined;
  const index = attachments.findIndex(
    (a) =>
      isRecord(a) && a.voiceNote === true && typeof a.contentType === 'string' && a.contentType.startsWith('audio/'),
  );
  if (index < 0) return undefined;
  const a = attachments[index] as Loose;
  const duration = a.durationMs;
  return {
    index,
    durationMs:
      typeof duration === 'number' && Number.isInteger(duration) && duration > 0 && duration <= MAX_DURATION_MS
        ? duration
        : null,
    waveform: bars(a.waveform),
    contentType: a.contentType as string,
    state: typeof a.state === 'string' && STATES.has(a.state) ? (a.state as VoiceNote['state']) : 'remote',
  };
}

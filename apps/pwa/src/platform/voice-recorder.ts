/**
 * Recording a voice note from the microphone: `getUserMedia` for audio, `MediaRecorder` in the type
 * `preferredRecordingType` detects (Opus in WebM or Ogg, AAC in MP4 on WebKit), and on stop the recording decoded
 * once (Web Audio) for its exact duration and its waveform. Page-only. It does not send, store or play anything;
 * the microphone is released on stop, cancel and every failure. `playableUrl` turns a received note into a URL the
 * page's `<audio>` plays.
 */
import { preferredRecordingType } from './capabilities.js';
import { mixDown, waveformOf } from './voice-waveform.js';

/** Why recording cannot start, in the words the UI explains. */
export type RecordingFailure = 'denied' | 'no-microphone' | 'unsupported' | 'failed';

export type RecordedVoice = { bytes: Uint8Array; contentType: string; durationMs: number; waveform: Uint8Array };

export interface VoiceRecording {
  /** Milliseconds recorded so far. */
  elapsedMs(): number;
  /** Stops and resolves with the recording; rejects when nothing usable was recorded. */
  stop(): Promise<RecordedVoice>;
  /** Stops and discards everything. */
  cancel(): void;
}

/** Collect data every second, so a long recording is not one huge buffer at the end and stop answers quickly. */
const TIMESLICE_MS = 1_000;

export function canRecordVoice(): boolean {
  return typeof navigator.mediaDevices?.getUserMedia === 'function' && preferredRecordingType() !== null;
}

function failureOf(error: unknown): RecordingFailure {
  const name = error instanceof DOMException || error instanceof Error ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError' || name === 'NotReadableError')
    return 'no-microphone';
  return 'failed';
}

/** Starts recording, or says why it cannot. Must follow a tap (permission prompt). */
export async function startVoiceRecording(): Promise<VoiceRecording | RecordingFailure> {
  const mimeType = preferredRecordingType();
  if (!mimeType || typeof navigator.mediaDevices?.getUserMedia !== 'function') return 'unsupported';
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch (error) {
    return failureOf(error);
  }
  const release = () => {
    for (const track of stream.getTracks()) track.stop();
  };
  let recorder: MediaRecorder;
  try {
    recorder = new MediaRecorder(stream, { mimeType });
    recorder.start(TIMESLICE_MS);
  } catch {
    release();
    return 'failed';
  }
  const startedAt = performance.now();
  const chunks: Blob[] = [];
  recorder.addEventListener('dataavailable', (event) => {
    if (event.data.size > 0) chunks.push(event.data);
  });
  const stopped = new Promise<void>((resolve) => recorder.addEventListener('stop', () => resolve(), { once: true }));
  const halt = () => {
    if (recorder.state !== 'inactive') recorder.stop();
    release();
  };
  return {
    elapsedMs: () => performance.now() - startedAt,
    cancel: () => {
      halt();
      chunks.length = 0;
    },
    stop: async () => {
      const wallMs = performance.now() - startedAt;
      halt();
      await stopped;
      const contentType = recorder.mimeType || mimeType;
      const blob = new Blob(chunks, { type: contentType });
      if (blob.size === 0) throw new Error('nothing was recorded');
      const bytes = new Uint8Array(await blob.arrayBuffer());
      const decoded = await decode(bytes);
      return {
        bytes,
        // Container type without codec parameters: what the pointer's content type and the players expect.
        contentType: (contentType.split(';')[0] ?? contentType).trim(),
        durationMs: Math.round(decoded ? decoded.duration * 1000 : wallMs),
        waveform: decoded ? waveformOf(mixDown(decoded.channels)) : new Uint8Array(0),
      };
    },
  };
}

/** The decoded samples and duration, or null when this engine cannot decode its own recording. */
async function decode(bytes: Uint8Array): Promise<{ duration: number; channels: Float32Array[] } | null> {
  const Context = globalThis.AudioContext as typeof AudioContext | undefined;
  if (!Context) return null;
  const context = new Context();
  try {
    const buffer = await context.decodeAudioData(bytes.slice().buffer);
    const channels: Float32Array[] = [];
    for (let i = 0; i < buffer.numberOfChannels; i += 1) channels.push(buffer.getChannelData(i));
    return { duration: buffer.duration, channels };
  } catch {
    return null;
  } finally {
    void context.close();
  }
}

/** An object URL the page's `<audio>` can play `audio` from (the CSP allows `media-src blob:`), and its release. */
export function playableUrl(audio: Blob): { url: string; revoke: () => void } {
  const url = URL.createObjectURL(audio);
  return { url, revoke: () => URL.revokeObjectURL(url) };
}

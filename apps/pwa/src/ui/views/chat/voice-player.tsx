/**
 * The player of a voice note in a message: play/pause, the waveform as the progress bar (click or drag to seek; a
 * keyboard slider: arrows ±1 s, Page Up/Down ±10 %, Home/End), elapsed and total time, and the speed (1×, 1.5×,
 * 2×). The audio is opened (downloaded, verified, made playable) on the first play or seek, and released when the
 * message leaves the screen. A note not yet played on this device carries a dot. It does not record or send.
 */
import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { VoiceNote } from '../../../app/model.js';
import { useApp } from '../../use-app.js';
import { IconPause, IconPlay } from './voice-icons.js';

/** Playback speeds offered, in the order the button cycles through them (as WhatsApp and Signal do). */
export const VOICE_SPEEDS = [1, 1.5, 2] as const;
/** Bars drawn when the sender gave no waveform (e.g. `cove send --voice`): a flat line of this many. */
const FLAT_BARS = 48;
/** Arrow keys move this many seconds; Page Up/Down a tenth of the note. */
const KEY_STEP_S = 1;

export function formatClock(seconds: number): string {
  const whole = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds) : 0;
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')}`;
}

export function VoicePlayer({
  messageId,
  voice,
  outgoing,
}: {
  messageId: string;
  voice: VoiceNote;
  outgoing: boolean;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const audio = useRef<HTMLAudioElement>(null);
  const opened = useRef<Promise<boolean> | null>(null);
  const release = useRef<(() => void) | null>(null);
  const [playing, setPlaying] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [mediaDuration, setMediaDuration] = useState<number | null>(null);
  const [speed, setSpeed] = useState<(typeof VOICE_SPEEDS)[number]>(1);
  const [failed, setFailed] = useState(voice.state === 'failed');
  const [played, setPlayed] = useState(() => outgoing || app.voice.played(messageId));

  useEffect(
    () => () => {
      release.current?.();
      release.current = null;
    },
    [],
  );

  const total = voice.durationMs !== null ? voice.durationMs / 1000 : (mediaDuration ?? 0);
  const bars = voice.waveform.length > 0 ? voice.waveform : new Array<number>(FLAT_BARS).fill(0);
  const progress = total > 0 ? Math.min(1, elapsed / total) : 0;

  const open = (): Promise<boolean> => {
    opened.current ??= app.voice.open(messageId, voice.index, voice.contentType).then(
      ({ url, revoke }) => {
        release.current = revoke;
        if (audio.current) audio.current.src = url;
        return true;
      },
      () => {
        setFailed(true);
        opened.current = null;
        return false;
      },
    );
    return opened.current;
  };

  const toggle = async () => {
    const element = audio.current;
    if (!element) return;
    if (!element.paused) {
      element.pause();
      return;
    }
    if (!(await open())) return;
    element.playbackRate = speed;
    try {
      await element.play();
    } catch {
      setFailed(true);
      return;
    }
    if (!played) {
      setPlayed(true);
      app.voice.markPlayed(messageId);
    }
  };

  const seek = async (seconds: number) => {
    const element = audio.current;
    if (!element || total <= 0) return;
    const target = Math.max(0, Math.min(total, seconds));
    setElapsed(target);
    if (!(await open())) return;
    if (element.readyState === 0)
      await new Promise((resolve) => element.addEventListener('loadedmetadata', resolve, { once: true }));
    element.currentTime = target;
  };

  const seekToPointer = (event: PointerEvent<HTMLDivElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    if (box.width <= 0) return;
    const ratio = (event.clientX - box.left) / box.width;
    const rtl = getComputedStyle(event.currentTarget).direction === 'rtl';
    void seek((rtl ? 1 - ratio : ratio) * total);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    const steps: Record<string, number> = {
      ArrowRight: KEY_STEP_S,
      ArrowUp: KEY_STEP_S,
      ArrowLeft: -KEY_STEP_S,
      ArrowDown: -KEY_STEP_S,
      PageUp: total / 10,
      PageDown: -total / 10,
    };
    if (event.key === 'Home') void seek(0);
    else if (event.key === 'End') void seek(total);
    else if (event.key in steps) void seek(elapsed + (steps[event.key] ?? 0));
    else return;
    event.preventDefault();
  };

  const nextSpeed = () => {
    const next = VOICE_SPEEDS[(VOICE_SPEEDS.indexOf(speed) + 1) % VOICE_SPEEDS.length] ?? 1;
    setSpeed(next);
    if (audio.current) audio.current.playbackRate = next;
  };

  return (
    <div
      className="voice-player"
      data-testid="voice-player"
      data-played={played ? 'true' : 'false'}
      data-duration-ms={Math.round(total * 1000)}
    >
      <button
        type="button"
        className="voice-play"
        data-testid="voice-play"
        aria-label={playing ? t('voice.pause') : t('voice.play')}
        aria-pressed={playing}
        disabled={failed}
        onClick={() => void toggle()}
      >
        {playing ? <IconPause /> : <IconPlay />}
      </button>
      <div className="voice-body">
        <div
          className="voice-waveform"
          data-testid="voice-waveform"
          role="slider"
          tabIndex={failed ? -1 : 0}
          aria-label={t('voice.position')}
          aria-valuemin={0}
          aria-valuemax={Math.round(total)}
          aria-valuenow={Math.round(elapsed)}
          aria-valuetext={t('voice.positionText', { elapsed: formatClock(elapsed), total: formatClock(total) })}
          onKeyDown={onKeyDown}
          onPointerDown={(event) => {
            event.currentTarget.setPointerCapture?.(event.pointerId);
            seekToPointer(event);
          }}
          onPointerMove={(event) => {
            if (event.buttons === 1) seekToPointer(event);
          }}
        >
          {bars.map((bar, i) => (
            <span
              key={i}
              className={`voice-bar${(i + 0.5) / bars.length <= progress ? ' done' : ''}`}
              style={{ height: `${Math.max(8, (bar / 255) * 100)}%` }}
            />
          ))}
        </div>
        <div className="voice-meta">
          <span className="voice-time" data-testid="voice-time">
            {playing || elapsed > 0 ? `${formatClock(elapsed)} / ${formatClock(total)}` : formatClock(total)}
          </span>
          {!played ? <span className="voice-unplayed" role="img" aria-label={t('voice.unplayed')} /> : null}
          {failed ? (
            <span className="voice-error" data-testid="voice-error">
              {t('voice.failed')}
            </span>
          ) : null}
          <button
            type="button"
            className="voice-speed"
            data-testid="voice-speed"
            aria-label={t('voice.speed', { speed })}
            onClick={nextSpeed}
          >
            {`${speed}×`}
          </button>
        </div>
      </div>
      <audio
        ref={audio}
        data-testid="voice-audio"
        preload="metadata"
        onPlay={() => setPlaying(true)}
        onPause={() => setPlaying(false)}
        onEnded={() => {
          setPlaying(false);
          setElapsed(total);
        }}
        onTimeUpdate={(event) => setElapsed(event.currentTarget.currentTime)}
        onLoadedMetadata={(event) => {
          const d = event.currentTarget.duration;
          if (Number.isFinite(d) && d > 0) setMediaDuration(d);
        }}
        onError={() => {
          if (opened.current) setFailed(true);
        }}
      />
    </div>
  );
}

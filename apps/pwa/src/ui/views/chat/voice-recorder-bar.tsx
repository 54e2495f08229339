/**
 * Recording a voice note in the composer: the microphone button (shown while the text field is empty) starts
 * recording; while it runs, a bar shows the running duration, a cancel button (nothing is sent) and the same
 * button again to stop and send. When the microphone is denied or absent, or this browser cannot record, a plain
 * explanation is shown instead. It does not play or store anything itself.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { RecordingFailure, VoiceRecording } from '../../../app/model.js';
import { IconSend } from '../../icons.js';
import { useApp } from '../../use-app.js';
import { IconMic, IconTrash } from './voice-icons.js';
import { formatClock } from './voice-player.js';

/** How often the running duration is redrawn; a quarter second keeps the seconds digit on time. */
const TICK_MS = 250;

export type RecorderPhase = 'idle' | 'starting' | 'recording' | 'sending';

export function useVoiceRecorder(conversationId: string): {
  phase: RecorderPhase;
  elapsedMs: number;
  failure: RecordingFailure | null;
  start: () => void;
  finish: () => void;
  cancel: () => void;
  dismiss: () => void;
} {
  const app = useApp();
  const recording = useRef<VoiceRecording | null>(null);
  const [phase, setPhase] = useState<RecorderPhase>('idle');
  const [elapsedMs, setElapsedMs] = useState(0);
  const [failure, setFailure] = useState<RecordingFailure | null>(null);

  useEffect(() => {
    if (phase !== 'recording') return;
    const timer = setInterval(() => setElapsedMs(recording.current?.elapsedMs() ?? 0), TICK_MS);
    return () => clearInterval(timer);
  }, [phase]);

  // Leaving the chat (or the screen) while recording discards the recording and frees the microphone.
  useEffect(
    () => () => {
      recording.current?.cancel();
      recording.current = null;
    },
    [conversationId],
  );

  return {
    phase,
    elapsedMs,
    failure,
    start: () => {
      if (phase !== 'idle') return;
      setFailure(null);
      setElapsedMs(0);
      setPhase('starting');
      void app.voice.startRecording().then(
        (result) => {
          if (typeof result === 'string') {
            setFailure(result);
            setPhase('idle');
            return;
          }
          recording.current = result;
          setPhase('recording');
        },
        () => {
          setFailure('failed');
          setPhase('idle');
        },
      );
    },
    finish: () => {
      const current = recording.current;
      if (!current || phase !== 'recording') return;
      recording.current = null;
      setPhase('sending');
      void current
        .stop()
        .then((voice) => app.voice.send(conversationId, voice))
        .then((refused) => {
          if (refused) setFailure('failed');
        })
        .catch(() => setFailure('failed'))
        .finally(() => setPhase('idle'));
    },
    cancel: () => {
      recording.current?.cancel();
      recording.current = null;
      setPhase('idle');
    },
    dismiss: () => setFailure(null),
  };
}

export function RecordButton({ onClick, busy }: { onClick: () => void; busy: boolean }): ReactElement {
  const { t } = useTranslation();
  return (
    <button
      type="button"
      className="send-button"
      data-testid="voice-record-button"
      aria-label={t('voice.record')}
      disabled={busy}
      onClick={onClick}
    >
      <IconMic />
    </button>
  );
}

export function RecordingBar({
  elapsedMs,
  sending,
  onCancel,
  onSend,
}: {
  elapsedMs: number;
  sending: boolean;
  onCancel: () => void;
  onSend: () => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="composer-row recording-bar" data-testid="voice-recording">
      <button
        type="button"
        className="icon-button"
        data-testid="voice-cancel-button"
        aria-label={t('voice.cancel')}
        disabled={sending}
        onClick={onCancel}
      >
        <IconTrash />
      </button>
      <span className="recording-dot" aria-hidden="true" />
      <span className="recording-time" data-testid="voice-recording-time" role="timer" aria-live="off">
        {formatClock(elapsedMs / 1000)}
      </span>
      <span className="recording-label">{sending ? t('voice.sending') : t('voice.recording')}</span>
      <button
        type="button"
        className="send-button"
        data-testid="voice-record-button"
        aria-label={t('voice.stopAndSend')}
        disabled={sending}
        onClick={onSend}
      >
        <IconSend />
      </button>
    </div>
  );
}

export function RecordingFailureNotice({
  failure,
  onDismiss,
}: {
  failure: RecordingFailure;
  onDismiss: () => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="recording-failure" role="alert" data-testid="voice-failure" data-reason={failure}>
      <p>{t(`voice.failure.${failure}`)}</p>
      <button type="button" className="link-button" onClick={onDismiss}>
        {t('voice.dismiss')}
      </button>
    </div>
  );
}

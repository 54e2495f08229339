/**
 * Voice notes for the chat screen: whether this browser can record, starting a recording (the platform's
 * microphone), sending the finished recording through the core as a voice-note attachment, opening a received or
 * sent one for playback (the core downloads and verifies it, the platform turns the bytes into a playable URL), and
 * which ones were played in this session. It renders and plays nothing; played marks are kept in memory only.
 */
import type { AppSession } from '../app-session.js';
import type { VoiceRecorder } from '../app-platform.js';
import type { AttachmentFailure, RecordedVoice, RecordingFailure, VoiceRecording, VoiceScreen } from '../model.js';

export class VoiceViewModel implements VoiceScreen {
  private readonly playedIds = new Set<string>();

  constructor(
    private readonly session: AppSession,
    private readonly recorder: VoiceRecorder,
  ) {}

  canRecord(): boolean {
    return this.recorder.canRecord();
  }

  startRecording(): Promise<VoiceRecording | RecordingFailure> {
    return this.recorder.start();
  }

  async send(conversationId: string, recording: RecordedVoice): Promise<AttachmentFailure | null> {
    return (await this.session.requireMessenger()).sendAttachment(conversationId, {
      source: recording.bytes,
      contentType: recording.contentType,
      voiceNote: true,
      durationMs: recording.durationMs,
      ...(recording.waveform.length > 0 ? { waveform: recording.waveform } : {}),
    });
  }

  async open(messageId: string, index: number, contentType: string): Promise<{ url: string; revoke: () => void }> {
    const messenger = await this.session.requireMessenger();
    // Downloading is a no-op for a note already on this device (sent from here, or fetched automatically).
    const failure = await messenger.downloadAttachment(messageId, index);
    if (failure) throw new Error(`voice note unavailable: ${failure}`);
    const audio = await messenger.openAttachment(messageId, index, contentType);
    if (typeof audio === 'string') throw new Error(`voice note unavailable: ${audio}`);
    return this.recorder.playable(audio);
  }

  played(messageId: string): boolean {
    return this.playedIds.has(messageId);
  }

  markPlayed(messageId: string): void {
    this.playedIds.add(messageId);
  }
}

/**
 * The contact screen's view model: the safety number (digits and QR payload) with the contact's trust, comparing
 * a scanned or pasted number, marking the contact verified with the digits the user saw, and camera scanning
 * through the platform. It renders nothing and decides no trust itself; the core does.
 */
import type { Capabilities } from '../app-platform.js';
import type { AppSession } from '../app-session.js';
import type { ContactScreen, SafetyInfo } from '../model.js';

export class ContactViewModel implements ContactScreen {
  constructor(
    private readonly session: AppSession,
    private readonly capabilities: Capabilities,
  ) {}

  async safety(conversationId: string): Promise<SafetyInfo> {
    const messenger = await this.session.requireMessenger();
    const [conversation, number] = await Promise.all([
      this.session.reader()?.conversation(conversationId),
      messenger.safetyNumber(conversationId),
    ]);
    return {
      title: conversation?.peerUsername ?? conversationId.slice(0, 8),
      digits: number.digits,
      qrPayload: number.scannable,
      verified: number.trust === 'verified',
      identityChanged: number.trust === 'unverified' && number.changedAt !== null,
    };
  }

  async compareSafety(conversationId: string, scanned: string): Promise<boolean> {
    const number = await (await this.session.requireMessenger()).safetyNumber(conversationId);
    const trimmed = scanned.trim();
    if (trimmed === number.scannable) return true;
    return trimmed.replace(/\D/g, '') === number.digits;
  }

  async markVerified(conversationId: string, digitsShown: string): Promise<'verified' | 'changed'> {
    const result = await (await this.session.requireMessenger()).verify(conversationId, digitsShown);
    this.session.store.bump();
    return result;
  }

  async nickname(conversationId: string): Promise<string | null> {
    return (await this.session.requireMessenger()).nickname(conversationId);
  }

  async setNickname(conversationId: string, nickname: string): Promise<'saved' | 'invalid'> {
    const text = nickname.trim();
    const result = await (await this.session.requireMessenger()).setNickname(conversationId, text || null);
    this.session.store.bump();
    return result;
  }

  canScan(): boolean {
    return this.capabilities.canScan();
  }

  scanQr(video: HTMLVideoElement, signal: AbortSignal): Promise<string | null> {
    return this.capabilities.scanQr(video, signal);
  }
}

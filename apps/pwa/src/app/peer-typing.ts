/**
 * Which contacts are typing right now, from the core's typing events: a "started" marks the conversation in
 * `AppState.typing` until a "stopped", an incoming message, or an expiry timer (the "stopped" may be lost). It does
 * not send anything; the user's own typing is the chat view model's.
 */
import type { AppStateStore } from './app-state-store.js';

/** A peer's "typing" expires after this long without a refresh, as in Signal, in case the "stopped" is lost. */
export const TYPING_EXPIRY_MS = 15_000;

export class PeerTyping {
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(private readonly store: AppStateStore) {}

  set(conversationId: string, typing: boolean): void {
    const timer = this.timers.get(conversationId);
    if (timer) clearTimeout(timer);
    this.timers.delete(conversationId);
    const current = this.store.get().typing;
    const next = new Set(current);
    if (typing) {
      next.add(conversationId);
      this.timers.set(
        conversationId,
        setTimeout(() => this.set(conversationId, false), TYPING_EXPIRY_MS),
      );
    } else next.delete(conversationId);
    if (next.size !== current.size || typing !== current.has(conversationId)) this.store.set({ typing: next });
  }
}

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

  /** `accountId`: who is typing (a group names them: "Ann is typing…"); the last one to start is shown. */
  set(conversationId: string, typing: boolean, accountId?: string): void {
    const timer = this.timers.get(conversationId);
    if (timer) clearTimeout(timer);
    this.timers.delete(conversationId);
    const current = this.store.get().typing;
    const currentBy = this.store.get().typingBy ?? new Map<string, string>();
    const next = new Set(current);
    const nextBy = new Map(currentBy);
    if (typing) {
      next.add(conversationId);
      if (accountId !== undefined) nextBy.set(conversationId, accountId);
      this.timers.set(
        conversationId,
        setTimeout(() => this.set(conversationId, false), TYPING_EXPIRY_MS),
      );
    } else {
      next.delete(conversationId);
      nextBy.delete(conversationId);
    }
    if (
      next.size !== current.size ||
      typing !== current.has(conversationId) ||
      nextBy.get(conversationId) !== currentBy.get(conversationId)
    )
      this.store.set({ typing: next, typingBy: nextBy });
  }
}

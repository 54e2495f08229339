/**
 * The app's shared state (`AppState`) and its listeners: patches replace the state object (so React's
 * `useSyncExternalStore` sees a new snapshot), and `bump` coalesces every change of one tick into one revision
 * (one reload of the visible views). It knows nothing of the messenger, storage or the browser.
 */
import type { AppState } from './model.js';

export class AppStateStore {
  private state: AppState;
  private readonly listeners = new Set<() => void>();
  private bumpQueued = false;

  constructor(initial: AppState) {
    this.state = initial;
  }

  get(): AppState {
    return this.state;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  set(patch: Partial<AppState>): void {
    this.state = { ...this.state, ...patch };
    for (const l of this.listeners) l();
  }

  /** Coalesces many changes in one tick into one revision bump (one reload of the visible views). */
  bump(): void {
    if (this.bumpQueued) return;
    this.bumpQueued = true;
    queueMicrotask(() => {
      this.bumpQueued = false;
      this.set({ revision: this.state.revision + 1 });
    });
  }
}

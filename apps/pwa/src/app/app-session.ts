/**
 * What the screens' view models share with the app shell: the state store, the history reader over the opened
 * profile, the messenger once the core has loaded, and the platform. The shell implements it; view-model tests
 * implement it with fakes. Types only.
 */
import type { KeyValueStorage, LockManager } from '@cove/client';
import type { AppPlatform, Vault } from './app-platform.js';
import type { AppStateStore } from './app-state-store.js';
import type { HistoryReader } from './history-reader.js';
import type { MessengerPort } from './messenger-port.js';

export interface AppSession {
  readonly store: AppStateStore;
  readonly platform: AppPlatform;
  /** The opened vault; null before start-up has opened storage. */
  vault(): Vault | null;
  /** The opened profile's storage and locks (for the app's own rows); null while locked or before start-up. */
  profile(): { storage: KeyValueStorage; locks: LockManager } | null;
  /** The reader over the opened profile; null while locked or before start-up. */
  reader(): HistoryReader | null;
  /** The messenger if the core is loaded and the account exists, else null (no waiting). */
  messenger(): MessengerPort | null;
  /** The messenger, waiting for the core to load (starting it at once if it had not); throws without an account. */
  requireMessenger(): Promise<MessengerPort>;
  /** The first screen has its data (the list, or an opened chat): the core may load once it is painted. */
  firstScreenShown(): void;
}

/**
 * How a page hears about the other contexts of the origin (tabs, the service worker): their committed changes
 * (BroadcastChannel notices from at-rest-storage.ts) and a change of the vault key, after which a page must reload
 * and unlock again. A channel never hears its own messages, so the announcing page keeps running.
 */
import { CONTEXT_ID } from './browser-platform.js';
import { COMMIT_CHANNEL, type CommitNotice } from './at-rest-storage.js';

/** Channel telling other tabs the vault key changed. */
const VAULT_CHANNEL = 'cove:vault';

export type CrossContext = { announceVaultChange(): void };

/** Calls `onCommit` for other contexts' commits and reloads the page when another one changes the vault key. */
export function listenToOtherContexts(onCommit: () => void): CrossContext {
  if (typeof BroadcastChannel !== 'function') return { announceVaultChange: () => undefined };
  const commits = new BroadcastChannel(COMMIT_CHANNEL);
  commits.onmessage = (event: MessageEvent<CommitNotice>) => {
    if (event.data.origin !== CONTEXT_ID) onCommit();
  };
  const vault = new BroadcastChannel(VAULT_CHANNEL);
  vault.onmessage = () => globalThis.location.reload();
  return { announceVaultChange: () => vault.postMessage({ changed: true }) };
}

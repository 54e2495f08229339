/**
 * The user's colour theme choice: System, Light or Dark, kept in localStorage (`cove:theme`) so that theme-boot.ts
 * applies it before the first paint in every tab (other tabs follow through `storage` events). Reading, writing
 * and hearing about changes; theme-boot.ts does the applying. Not secret, and not part of the encrypted profile.
 */

export type ThemeChoice = 'system' | 'light' | 'dark';

/** Shared with theme-boot.ts (which imports nothing, so the value is repeated there). */
const THEME_KEY = 'cove:theme';
/** The event theme-boot.ts listens to for this page's own changes. */
const APPLY_EVENT = 'cove:theme';

export function readTheme(): ThemeChoice {
  try {
    const stored = globalThis.localStorage.getItem(THEME_KEY);
    return stored === 'light' || stored === 'dark' ? stored : 'system';
  } catch {
    return 'system';
  }
}

export function writeTheme(choice: ThemeChoice): void {
  try {
    if (choice === 'system') globalThis.localStorage.removeItem(THEME_KEY);
    else globalThis.localStorage.setItem(THEME_KEY, choice);
  } catch {
    // Storage disabled: the choice applies to this page only.
  }
  globalThis.dispatchEvent(new Event(APPLY_EVENT));
}

/** Calls `listener` with the new choice when another tab changes it. */
export function onThemeChange(listener: (choice: ThemeChoice) => void): () => void {
  const handler = (event: StorageEvent): void => {
    if (event.key === THEME_KEY || event.key === null) listener(readTheme());
  };
  globalThis.addEventListener('storage', handler);
  return () => globalThis.removeEventListener('storage', handler);
}

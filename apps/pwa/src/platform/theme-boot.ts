/**
 * Applies the colour theme before the first paint: compiled alone to the classic script `/theme-boot.js` that the
 * head of index.html loads synchronously (vite.config.ts `themeBoot`), it reads the user's choice (System / Light /
 * Dark, localStorage `cove:theme`: not secret, and readable synchronously, unlike IndexedDB), sets `data-theme` on the
 * root element (styles.css) and the `theme-color` meta, and follows changes made by other tabs (`storage` events) and
 * of the system setting. It imports nothing, so it stays a few hundred bytes; platform/theme.ts changes the choice.
 */

/** The localStorage key of the choice; absent or anything else means "follow the system". */
const THEME_KEY = 'cove:theme';
/** The toolbar colours: the light brand teal (as the manifest), and the dark theme's background. */
const LIGHT_TOOLBAR = '#0e7c86';
const DARK_TOOLBAR = '#0d1719';

const systemDark = (): MediaQueryList => globalThis.matchMedia('(prefers-color-scheme: dark)');

function applyStoredTheme(): void {
  let stored: string | null = null;
  try {
    stored = globalThis.localStorage.getItem(THEME_KEY);
  } catch {
    // Storage disabled: follow the system.
  }
  const chosen = stored === 'light' || stored === 'dark' ? stored : null;
  const root = document.documentElement;
  if (chosen) root.setAttribute('data-theme', chosen);
  else root.removeAttribute('data-theme');
  const dark = chosen ? chosen === 'dark' : systemDark().matches;
  document.querySelector('meta[name="theme-color"]')?.setAttribute('content', dark ? DARK_TOOLBAR : LIGHT_TOOLBAR);
}

applyStoredTheme();
globalThis.addEventListener('storage', (event: StorageEvent) => {
  if (event.key === THEME_KEY || event.key === null) applyStoredTheme();
});
systemDark().addEventListener('change', applyStoredTheme);
// The page's own changes (platform/theme.ts) announce themselves with this event: `storage` fires only in other tabs.
globalThis.addEventListener('cove:theme', applyStoredTheme);

// A module for TypeScript (isolated modules); the build drops this line, so the script stays a classic one.
export {};

/**
 * Entry point and composition root: styles, i18n in the browser's (or the saved) language, the browser platform
 * handed to the app shell, and the React tree. The API is on the same origin as the app.
 */
import './no-eval.js';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import type { AppPlatform } from './app/app-platform.js';
import { CoveAppShell } from './app/app-shell.js';
import { createBrowserAppPlatform } from './platform/browser-app-platform.js';
import { browserLanguages } from './platform/capabilities.js';
import { openCoveDatabase } from './platform/idb/database.js';
import { readSettings } from './platform/settings.js';
import { takeSsoReturn } from './platform/sso-return.js';
import { takeInviteFromAddress } from './platform/invite-link.js';
import { onOpenRequest } from './platform/sw-registration.js';
import { AppRoot } from './ui/app-root.js';
import { changeLanguage, initI18n, pickLanguage } from './ui/i18n/index.js';
import { AppContext } from './ui/use-app.js';
import './ui/styles.css';

/** The saved language, or none when storage cannot be read (the app itself then shows what went wrong). */
async function savedLanguage(): Promise<string | null> {
  try {
    return (await readSettings(await openCoveDatabase())).language;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  // First of all: a single sign-on's single-use token leaves the address bar before anything else runs.
  const ssoReturn = takeSsoReturn();
  const invite = takeInviteFromAddress();
  const language = pickLanguage(await savedLanguage(), browserLanguages());
  await initI18n(language);
  document.documentElement.lang = language;
  const platform: AppPlatform = createBrowserAppPlatform();
  const app = new CoveAppShell(platform, {
    serverUrl: globalThis.location.origin,
    ssoReturn,
    invite,
    onLanguage: async (setting) => {
      const next = pickLanguage(setting, browserLanguages());
      await changeLanguage(next);
      document.documentElement.lang = next;
    },
  });
  const root = document.getElementById('root');
  if (!root) throw new Error('#root missing');
  createRoot(root).render(
    <StrictMode>
      <AppContext.Provider value={app}>
        <AppRoot />
      </AppContext.Provider>
    </StrictMode>,
  );
  onOpenRequest((path) => {
    globalThis.history.pushState(null, '', path);
    globalThis.dispatchEvent(new PopStateEvent('popstate'));
  });
  await app.start();
}

void main();

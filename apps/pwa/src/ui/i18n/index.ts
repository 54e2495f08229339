/**
 * Internationalisation: English and Simplified Chinese through i18next, picked from the user's setting or else the
 * browser's preferred languages. Every user-facing string of the UI comes from these resources. Each language's
 * strings are a chunk of their own, loaded before it is used (English always, as the fallback; the other only for
 * its users). It does not format dates or numbers (format.ts uses Intl with the active language).
 */
import i18next, { type i18n } from 'i18next';
import { initReactI18next } from 'react-i18next';

export const LANGUAGES = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '简体中文' },
] as const;

export type LanguageCode = (typeof LANGUAGES)[number]['code'];

/** Maps a setting or the browser's language list to a supported language. */
export function pickLanguage(setting: string | null, browser: readonly string[]): LanguageCode {
  const candidates = setting ? [setting, ...browser] : browser;
  for (const tag of candidates) {
    const lower = tag.toLowerCase();
    if (lower.startsWith('zh')) return 'zh-CN';
    if (lower.startsWith('en')) return 'en';
  }
  return 'en';
}

type Strings = Record<string, unknown>;

/** Each language's strings, as a chunk of its own (precached like the rest of the app). */
const LOCALES: Record<LanguageCode, () => Promise<{ default: Strings }>> = {
  en: () => import('../../locales/en.json'),
  'zh-CN': () => import('../../locales/zh-CN.json'),
};

/** The strings of `language` and of the fallback (English), loaded. */
async function resourcesFor(language: LanguageCode): Promise<Record<string, { translation: Strings }>> {
  const codes: LanguageCode[] = language === 'en' ? ['en'] : ['en', language];
  const loaded = await Promise.all(codes.map(async (code) => [code, (await LOCALES[code]()).default] as const));
  return Object.fromEntries(loaded.map(([code, strings]) => [code, { translation: strings }]));
}

export async function initI18n(language: LanguageCode): Promise<i18n> {
  await i18next.use(initReactI18next).init({
    resources: await resourcesFor(language),
    lng: language,
    fallbackLng: 'en',
    interpolation: { escapeValue: false },
    returnNull: false,
    showSupportNotice: false,
  });
  return i18next;
}

/** Switches the UI to `language`, loading its strings first if this page has not yet. */
export async function changeLanguage(language: LanguageCode): Promise<void> {
  if (!i18next.hasResourceBundle(language, 'translation'))
    for (const [code, bundle] of Object.entries(await resourcesFor(language)))
      if (!i18next.hasResourceBundle(code, 'translation'))
        i18next.addResourceBundle(code, 'translation', bundle.translation);
  await i18next.changeLanguage(language);
}

export { i18next };

/**
 * Internationalisation: English and Simplified Chinese through i18next, picked from the user's setting or else the
 * browser's preferred languages. Every user-facing string of the UI comes from these resources. It does not
 * format dates or numbers (format.ts uses Intl with the active language).
 */
import i18next, { type i18n } from 'i18next';
import { initReactI18next } from 'react-i18next';
import en from '../../locales/en.json';
import zhCN from '../../locales/zh-CN.json';

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

export async function initI18n(language: LanguageCode): Promise<i18n> {
  await i18next.use(initReactI18next).init({
    resources: { en: { translation: en }, 'zh-CN': { translation: zhCN } },
    lng: language,
    fallbackLng: 'en',
    interpolation: { escapeValue: false },
    returnNull: false,
    showSupportNotice: false,
  });
  return i18next;
}

export { i18next };

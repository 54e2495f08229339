/**
 * The few strings the service worker shows in notifications, in the user's language, from the same locale files (src/locales/)
 * as the UI (the worker does not load i18next). It does not decide whether previews are shown.
 */
import en from '../../locales/en.json';
import zhCN from '../../locales/zh-CN.json';

export type NotificationStrings = { newMessage: string; newMessageBody: string; lockedBody: string };

export function notificationStrings(setting: string | null, browser: readonly string[]): NotificationStrings {
  const candidates = setting ? [setting, ...browser] : browser;
  const chinese =
    candidates
      .find((tag) => /^(zh|en)/i.test(tag))
      ?.toLowerCase()
      .startsWith('zh') ?? false;
  return (chinese ? zhCN : en).notification;
}

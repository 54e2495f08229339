/**
 * The few strings the service worker shows in notifications, in the user's language, from the same locale files (src/locales/)
 * as the UI (the worker does not load i18next). It does not decide whether previews are shown.
 */
import en from '../../locales/en.json';
import zhCN from '../../locales/zh-CN.json';

export type NotificationStrings = {
  newMessage: string;
  newMessageBody: string;
  lockedBody: string;
  /** A photo without a caption. */
  photo: string;
  /** A voice note. */
  voice: string;
  /** A file without a caption: `{{name}}` is its name. */
  file: string;
  /** The title of a group message's notification: `{{sender}}` in `{{group}}`. */
  inGroup: string;
};

/** Longest file name put in a notification, in characters. */
const MAX_NAME_CHARS = 80;
/** Control and bidirectional-override characters never reach a notification (a name is the sender's text). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** What a message is, for a notification or a list preview: its text, or what its attachment is. */
export type NotificationContent = {
  text: string;
  attachment: { kind: 'image' | 'voice' | 'file'; fileName: string | null } | null;
};

/** The body line for one message: its text (the caption), else "Photo", "Voice message" or the file's name. */
export function notificationBody(content: NotificationContent, strings: NotificationStrings): string {
  const { text, attachment } = content;
  if (!attachment) return text;
  if (attachment.kind === 'voice') return text ? `${strings.voice} ${text}` : strings.voice;
  if (text) return text;
  if (attachment.kind === 'image') return strings.photo;
  const name = (attachment.fileName ?? '').replace(UNSAFE, '').slice(0, MAX_NAME_CHARS);
  return strings.file.replace('{{name}}', name || '…');
}

/** A notification's title: the sender, or "Ann in Team" for a group message (names cleaned and bounded). */
export function notificationTitle(sender: string, group: string | null, strings: NotificationStrings): string {
  const clean = (value: string) => value.replace(UNSAFE, '').slice(0, MAX_NAME_CHARS);
  if (group === null) return clean(sender);
  return strings.inGroup.replace('{{sender}}', clean(sender)).replace('{{group}}', clean(group) || '…');
}

export function notificationStrings(setting: string | null, browser: readonly string[]): NotificationStrings {
  const candidates = setting ? [setting, ...browser] : browser;
  const chinese =
    candidates
      .find((tag) => /^(zh|en)/i.test(tag))
      ?.toLowerCase()
      .startsWith('zh') ?? false;
  return (chinese ? zhCN : en).notification;
}

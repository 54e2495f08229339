/**
 * Emoji names and search for the composer's picker, from the emojibase data Cove serves itself
 * (`/emoji-data/<locale>.json`, copied from `emoji-picker-element-data` into the build and precached by the service
 * worker): English, or Chinese names and keywords when the UI is 简体中文. The data is read through
 * `emoji-picker-element`'s `Database` (loaded on first use, so it is not in the first screen's bundle), which keeps
 * it in IndexedDB under its own database. English search is the database's (each word a prefix of a name or keyword
 * word); Chinese has no spaces between words and many one-character words (猫, 笑), which the database's tokens
 * (whole phrases, two characters at least) cannot find, so Chinese search matches the query anywhere in an emoji's
 * name or keywords, over all emoji held in memory once. Only public emoji data is stored there: Cove never records favourites or
 * the chosen skin tone in it, so nothing about the user's messages lands outside the encrypted store.
 */

/** One emoji as the picker shows it. */
export type EmojiEntry = { unicode: string; name: string };

export interface EmojiSource {
  /** The emoji of one group (0 smileys … 9 flags), in the standard order. */
  group(group: number): Promise<EmojiEntry[]>;
  /** Emoji whose name or keywords start with the words of `query`. */
  search(query: string): Promise<EmojiEntry[]>;
}

/** Where the build puts the data of each locale the UI offers (vite.config.ts, `emojiData`). */
export const EMOJI_DATA_URLS: Readonly<Record<'en' | 'zh', string>> = {
  en: '/emoji-data/en.json',
  zh: '/emoji-data/zh.json',
};

const sources = new Map<string, Promise<EmojiSource>>();

/** The emoji data for the UI language `language` (a BCP 47 tag): Chinese for `zh*`, English otherwise. */
export function emojiSource(language: string): Promise<EmojiSource> {
  const locale = language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
  let source = sources.get(locale);
  if (!source) {
    source = openSource(locale);
    sources.set(locale, source);
    source.catch(() => sources.delete(locale));
  }
  return source;
}

async function openSource(locale: 'en' | 'zh'): Promise<EmojiSource> {
  const { default: Database } = await import('emoji-picker-element/database.js');
  const database = new Database({ dataSource: EMOJI_DATA_URLS[locale], locale });
  await database.ready();
  const native = (emoji: readonly unknown[]): EmojiEntry[] =>
    emoji.flatMap((e) => {
      const entry = e as { unicode?: unknown; annotation?: unknown };
      return typeof entry.unicode === 'string'
        ? [{ unicode: entry.unicode, name: typeof entry.annotation === 'string' ? entry.annotation : '' }]
        : [];
    });
  let everything: Promise<{ entry: EmojiEntry; words: string }[]> | null = null;
  const allEmoji = () =>
    (everything ??= Promise.all(GROUP_IDS.map((g) => database.getEmojiByGroup(g))).then((groups) =>
      groups.flat().flatMap((e) => {
        const entry = e as { unicode?: unknown; annotation?: unknown; tags?: unknown };
        if (typeof entry.unicode !== 'string') return [];
        const name = typeof entry.annotation === 'string' ? entry.annotation : '';
        const tags = Array.isArray(entry.tags) ? entry.tags.filter((t) => typeof t === 'string') : [];
        return [{ entry: { unicode: entry.unicode, name }, words: [name, ...tags].join('\n').toLowerCase() }];
      }),
    ));
  return {
    group: async (group) => native(await database.getEmojiByGroup(group)),
    search: async (query) => {
      const text = query.trim().toLowerCase();
      if (!text) return [];
      if (locale === 'en') return native(await database.getEmojiBySearchQuery(text));
      const words = text.split(/\s+/u);
      return (await allEmoji()).filter((e) => words.every((w) => e.words.includes(w))).map((e) => e.entry);
    },
  };
}

/** emojibase's groups, in order (2 is skin-tone components, which have no emoji of their own to pick). */
const GROUP_IDS = [0, 1, 3, 4, 5, 6, 7, 8, 9] as const;

/**
 * The composer's emoji picker, loaded on first open (a separate chunk, with the emoji database): a search field
 * (names and keywords in the UI's language, Chinese when it is 简体中文), the emoji groups as tabs, and a grid of
 * emoji; choosing one hands it to `onPick` (the composer inserts it at the caret). The data comes from Cove's own
 * server. It does not insert or send anything itself.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { EmojiEntry, EmojiSource } from '../../../app/model.js';
import { useApp } from '../../use-app.js';

/** emojibase's groups shown as tabs, with their icon (group 2, "component", holds skin tones only: not shown). */
const GROUPS = [
  { id: 0, icon: '😀', key: 'smileys' },
  { id: 1, icon: '👋', key: 'people' },
  { id: 3, icon: '🐱', key: 'nature' },
  { id: 4, icon: '🍎', key: 'food' },
  { id: 5, icon: '🏠️', key: 'travel' },
  { id: 6, icon: '⚽', key: 'activities' },
  { id: 7, icon: '📝', key: 'objects' },
  { id: 8, icon: '⛔️', key: 'symbols' },
  { id: 9, icon: '🏁', key: 'flags' },
] as const;

export function EmojiPicker({ onPick }: { onPick: (emoji: string) => void }): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [source, setSource] = useState<EmojiSource | null>(null);
  const [failed, setFailed] = useState(false);
  const [group, setGroup] = useState<number>(0);
  const [query, setQuery] = useState('');
  const [emoji, setEmoji] = useState<EmojiEntry[] | null>(null);

  useEffect(() => {
    let live = true;
    setSource(null);
    app.emoji(i18n.language).then(
      (s) => live && setSource(s),
      () => live && setFailed(true),
    );
    return () => {
      live = false;
    };
  }, [app, i18n.language]);

  useEffect(() => {
    if (!source) return;
    let live = true;
    const load = query.trim() ? source.search(query) : source.group(group);
    load.then(
      (list) => live && setEmoji(list),
      () => live && setEmoji([]),
    );
    return () => {
      live = false;
    };
  }, [source, group, query]);

  return (
    <div className="emoji-picker" data-testid="emoji-picker" role="dialog" aria-label={t('emojiPicker.title')}>
      <input
        type="search"
        className="emoji-search"
        data-testid="emoji-search"
        placeholder={t('emojiPicker.search')}
        aria-label={t('emojiPicker.search')}
        value={query}
        onChange={(e) => setQuery(e.target.value)}
      />
      {query.trim() ? null : (
        <div className="emoji-groups" role="tablist" aria-label={t('emojiPicker.groups')}>
          {GROUPS.map((g) => (
            <button
              key={g.id}
              type="button"
              role="tab"
              className="emoji-group"
              aria-selected={g.id === group}
              aria-label={t(`emojiPicker.group.${g.key}`)}
              onClick={() => setGroup(g.id)}
            >
              {g.icon}
            </button>
          ))}
        </div>
      )}
      <div className="emoji-grid" role="listbox" aria-label={t('emojiPicker.title')}>
        {failed ? (
          <p className="emoji-status">{t('emojiPicker.unavailable')}</p>
        ) : !source || emoji === null ? (
          <p className="emoji-status">{t('emojiPicker.loading')}</p>
        ) : emoji.length === 0 ? (
          <p className="emoji-status" data-testid="emoji-empty">
            {t('emojiPicker.none')}
          </p>
        ) : (
          emoji.map((e) => (
            <button
              key={e.unicode}
              type="button"
              role="option"
              aria-selected={false}
              className="emoji"
              data-testid="emoji-option"
              data-emoji={e.unicode}
              title={e.name}
              aria-label={e.name || e.unicode}
              onClick={() => onPick(e.unicode)}
            >
              {e.unicode}
            </button>
          ))
        )}
      </div>
    </div>
  );
}

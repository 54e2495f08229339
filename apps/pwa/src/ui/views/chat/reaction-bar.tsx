/**
 * Reactions: the chips under a bubble (one per emoji with its count; the user's own is highlighted and tapping it
 * takes it away, tapping another sets that one) and the quick bar of six emoji in the message-actions menu.
 * Display and taps only: the chat view sends the reaction.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ReactionCount } from '../../../app/model.js';

/** The quick reactions, as Signal and WhatsApp offer them; any other emoji comes from the composer's keyboard. */
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏'] as const;

export function ReactionChips({
  reactions,
  onToggle,
}: {
  reactions: readonly ReactionCount[];
  onToggle: (emoji: string, remove: boolean) => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="reaction-chips">
      {reactions.map((r) => (
        <button
          key={r.emoji}
          type="button"
          className={`reaction-chip${r.mine ? ' mine' : ''}`}
          data-testid="reaction"
          data-emoji={r.emoji}
          data-count={r.count}
          aria-pressed={r.mine}
          aria-label={t('actions.reactionChip', { emoji: r.emoji, count: r.count })}
          onClick={() => onToggle(r.emoji, r.mine)}
        >
          <span aria-hidden="true">{r.emoji}</span>
          {r.count > 1 ? <span className="reaction-count">{r.count}</span> : null}
        </button>
      ))}
    </div>
  );
}

export function QuickReactionBar({
  mine,
  onPick,
}: {
  /** The user's current reaction to the message, if any (picking it again takes it away). */
  mine: string | null;
  onPick: (emoji: string, remove: boolean) => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="quick-reactions" role="group" aria-label={t('actions.react')}>
      {QUICK_REACTIONS.map((emoji) => (
        <button
          key={emoji}
          type="button"
          role="menuitem"
          className={`quick-reaction${mine === emoji ? ' mine' : ''}`}
          data-testid="quick-reaction"
          data-emoji={emoji}
          aria-label={t('actions.reactWith', { emoji })}
          onClick={() => onPick(emoji, mine === emoji)}
        >
          {emoji}
        </button>
      ))}
    </div>
  );
}

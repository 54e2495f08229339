/**
 * Whether a message is "emoji only" (one to three emoji and nothing else but spaces), which the chat shows large,
 * as other messengers do. Counts user-perceived characters (grapheme clusters), so a family, a flag or a skin-toned
 * hand is one emoji. Pure; it does not render.
 */

/** Up to this many emoji render large; longer runs read better at text size. */
export const MAX_LARGE_EMOJI = 3;

/** A grapheme that is an emoji: pictographic, or a flag (two regional indicators), or a keycap. */
const EMOJI_GRAPHEME = /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}{2}|[#*0-9]\uFE0F?\u20E3)/u;

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export function emojiOnlyCount(text: string): number {
  let count = 0;
  for (const { segment } of segmenter.segment(text)) {
    if (/^\s+$/u.test(segment)) continue;
    if (!EMOJI_GRAPHEME.test(segment)) return 0;
    count += 1;
  }
  return count;
}

export function isLargeEmoji(text: string): boolean {
  const count = emojiOnlyCount(text);
  return count >= 1 && count <= MAX_LARGE_EMOJI;
}

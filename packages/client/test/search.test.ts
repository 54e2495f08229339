/**
 * The pure search module (search.ts): folding with offsets back into the original, index tokens (words whole, CJK
 * bigrams), query terms, matching with highlight ranges in English, Chinese, Japanese, Korean, mixed text and emoji,
 * snippets, and hostile input (huge queries, lone surrogates, regex characters, bidi controls).
 */
import { describe, expect, it } from '@jest/globals';

import {
  MAX_QUERY_CHARS,
  bigrams,
  foldText,
  matchText,
  matchesQuery,
  parseQuery,
  searchTokens,
  snippetParts,
} from '../src/search.js';

/** The highlighted pieces of `text` for `query`, or null when it does not match. */
const highlights = (text: string, query: string): string[] | null => {
  const ranges = matchText(text, parseQuery(query));
  // The cheap test gives the same answer as the one with ranges.
  expect(matchesQuery(text, parseQuery(query))).toBe(ranges !== null);
  return ranges?.map((r) => text.slice(r.start, r.end)) ?? null;
};

describe('search', () => {
  it('should fold case, diacritics and full-width forms and map back to the original', () => {
    const folded = foldText('Ça VA? Ｃafé');
    expect(folded.text).toBe('ca va? cafe');
    expect(folded.starts[0]).toBe(0);
    expect(highlights('Déjà vu at the CAFÉ', 'deja cafe')).toEqual(['Déjà', 'CAFÉ']);
    expect(highlights('Ｃafé', 'cafe')).toEqual(['Ｃafé']);
    // Greek final sigma folds like sigma, whether the text or the query has it.
    expect(highlights('ΟΔΟΣ και οδός', 'οδοσ')).toEqual(['ΟΔΟΣ', 'οδός']);
    expect(highlights('Straße İstanbul', 'istanbul')).toEqual(['İstanbul']);
  });

  it('should match English words by prefix, every term required', () => {
    expect(highlights('The meeting moved to Tuesday', 'meet tues')).toEqual(['meet', 'Tues']);
    expect(highlights('The meeting moved to Tuesday', 'eting')).toBeNull();
    expect(highlights('ameeting 会meeting', 'meet')).toEqual(['meet']);
    expect(highlights('😀meeting', 'meet')).toEqual(['meet']);
    expect(highlights('The meeting moved to Tuesday', 'meeting friday')).toBeNull();
    expect(highlights('hello', '')).toBeNull();
    expect(highlights('', 'hello')).toBeNull();
  });

  it('should tokenize CJK runs as bigrams and match a word inside a sentence', () => {
    expect(bigrams('今天天气')).toEqual(['今天', '天天', '天气']);
    expect(bigrams('好')).toEqual(['好']);
    expect(searchTokens('今天天气很好 Hello')).toEqual(['今天', '天天', '天气', '气很', '很好', 'hello']);
    expect(highlights('我们明天下午开会讨论预算', '开会')).toEqual(['开会']);
    expect(highlights('我们明天下午开会讨论预算', '开讨')).toBeNull();
    expect(highlights('東京でラーメンを食べた', 'ラーメン')).toEqual(['ラーメン']);
    expect(highlights('오늘 날씨가 좋네요', '날씨')).toEqual(['날씨']);
    expect(parseQuery('天气 weather')).toEqual([
      { kind: 'cjk', text: '天气' },
      { kind: 'word', text: 'weather' },
    ]);
  });

  it('should handle mixed scripts and emoji', () => {
    // Adjacent matches merge into one highlight.
    expect(highlights('新iPhone发布会 🎉 tomorrow', 'iphone 发布')).toEqual(['iPhone发布']);
    expect(highlights('新 iPhone 发布会', 'iphone 发布')).toEqual(['iPhone', '发布']);
    expect(highlights('party 🎉🎉 tonight', '🎉')).toEqual(['🎉🎉']);
    expect(highlights('party 🎉 tonight', '🍕')).toBeNull();
    expect(highlights('👍🏽 ok', '👍🏽')).toEqual(['👍🏽']);
  });

  it('should survive hostile input', () => {
    expect(highlights('a.*b (c) [d]', '.*')).toEqual(['.*']);
    expect(highlights('a.*b (c) [d]', '(c')).toEqual(['c']);
    const long = 'x'.repeat(100_000);
    expect(parseQuery(long)[0]?.text.length).toBe(MAX_QUERY_CHARS);
    expect(highlights('lone \ud800 surrogate', '\ud800')).toEqual(['\ud800']);
    expect(highlights('evil \u202eRTL\u202c text', 'rtl')).toEqual(['RTL']);
    expect(parseQuery('   \u0000 \n')).toEqual([{ kind: 'literal', text: '\u0000' }]);
    expect(matchText('x', [])).toBeNull();
  });

  it('should cut snippets around the first match on code-point boundaries', () => {
    const text = `${'😀'.repeat(40)} the needle here ${'z'.repeat(300)}`;
    const ranges = matchText(text, parseQuery('needle')) ?? [];
    const parts = snippetParts(text, ranges);
    expect(parts[0]).toEqual({ text: '…', match: false });
    expect(parts.find((p) => p.match)?.text).toBe('needle');
    expect(parts[parts.length - 1]).toEqual({ text: '…', match: false });
    for (const part of parts) expect(part.text).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/);
    expect(snippetParts('a\nb needle', matchText('a\nb needle', parseQuery('needle')) ?? [])).toEqual([
      { text: 'a b ', match: false },
      { text: 'needle', match: true },
    ]);
  });
});

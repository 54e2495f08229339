/**
 * Text search, pure: folding (case, diacritics and compatibility forms removed, every folded character mapped back
 * to where it came from in the original), tokens for an index (Latin and other alphabetic words whole; Chinese,
 * Japanese and Korean runs as overlapping bigrams, since they are not written with spaces between words), query
 * terms, matching with highlight ranges in the ORIGINAL text, and snippets around the first match. A query matches
 * when every term does: a word term is a prefix of a word of the text ("mess" finds "Message", "cafe" finds "Café"),
 * a CJK term occurs as a run of the text ("天气" finds "今天天气很好", which holds all of its bigrams in order),
 * a query of neither (emoji, punctuation) occurs as written. It reads and stores nothing.
 */

/** Longest query looked at, in code points: longer ones are cut (a pasted page must not make search crawl). */
export const MAX_QUERY_CHARS = 256;
/** Characters of context kept before the first match in a snippet. */
const SNIPPET_BEFORE = 30;
/** Longest snippet, in UTF-16 units (about two lines of a result row). */
const SNIPPET_LENGTH = 140;
const ELLIPSIS = '…';

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u30fc\u3005]/u;
const WORD = /[\p{L}\p{N}]/u;
const MARKS = /\p{M}/gu;
const FINAL_SIGMA = /ς/g;

/** A text folded for matching: `text[i]` came from the original's UTF-16 range `[starts[i], ends[i])`. */
export type FoldedText = { text: string; starts: number[]; ends: number[] };

/** A highlighted range of an original text, in UTF-16 offsets (`end` exclusive). */
export type MatchRange = { start: number; end: number };

export type QueryTerm = { kind: 'word' | 'cjk' | 'literal'; text: string };

/**
 * Folds one code point: compatibility decomposition, combining marks dropped, lower case (final sigma as sigma, so
 * that folding a whole text and folding it character by character agree). ASCII takes a shortcut: it is most text,
 * and normalizing it changes nothing.
 */
const foldChar = (char: string): string => {
  if (char.length === 1 && char.charCodeAt(0) < 0x80) return char.toLowerCase();
  return char.normalize('NFKD').replace(MARKS, '').toLowerCase().replace(FINAL_SIGMA, 'σ');
};

/** The whole text folded at once, without offsets: a cheap first test that every term can be in it. */
const quickFold = (text: string): string =>
  text.normalize('NFKD').replace(MARKS, '').toLowerCase().replace(FINAL_SIGMA, 'σ');

/** Folds a text for matching, keeping where each folded character came from. */
export const foldText = (original: string): FoldedText => {
  let text = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let offset = 0;
  for (const char of original) {
    const folded = foldChar(char);
    for (let i = 0; i < folded.length; i += 1) {
      starts.push(offset);
      ends.push(offset + char.length);
    }
    text += folded;
    offset += char.length;
  }
  return { text, starts, ends };
};

type Run = { kind: 'word' | 'cjk'; start: number; text: string };

/** The runs of a folded text: CJK characters, other letters and digits; everything else separates. */
const runsOf = (folded: string): Run[] => {
  const runs: Run[] = [];
  let current: Run | null = null;
  let index = 0;
  for (const char of folded) {
    const kind = CJK.test(char) ? 'cjk' : WORD.test(char) ? 'word' : null;
    if (kind === null) current = null;
    else if (current && current.kind === kind) current.text += char;
    else {
      current = { kind, start: index, text: char };
      runs.push(current);
    }
    index += char.length;
  }
  return runs;
};

/** Overlapping pairs of characters of a CJK run (a single character stands alone). */
export const bigrams = (run: string): string[] => {
  const chars = [...run];
  if (chars.length < 2) return chars;
  return chars.slice(1).map((char, i) => `${chars[i] ?? ''}${char}`);
};

/**
 * The tokens an index of this text would hold: folded words, and bigrams of CJK runs; duplicates removed. Used to
 * tell whether a text can match at all before ranges are computed.
 */
export const searchTokens = (text: string): string[] => {
  const tokens = new Set<string>();
  for (const run of runsOf(foldText(text).text))
    for (const token of run.kind === 'cjk' ? bigrams(run.text) : [run.text]) tokens.add(token);
  return [...tokens];
};

/** The terms of a query (cut to MAX_QUERY_CHARS); empty when it holds nothing to look for. */
export const parseQuery = (query: string): QueryTerm[] => {
  const cut = [...query].slice(0, MAX_QUERY_CHARS).join('');
  const folded = foldText(cut).text;
  const terms = runsOf(folded).map(({ kind, text }): QueryTerm => ({ kind, text }));
  if (terms.length > 0) return terms;
  const literal = folded.trim();
  return literal ? [{ kind: 'literal', text: literal }] : [];
};

/** Every index at which `needle` occurs in `haystack`. */
const occurrences = (haystack: string, needle: string): number[] => {
  const found: number[] = [];
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) found.push(at);
  return found;
};

/** Whether the character before `at` in `folded` ends a word run (so a word starting at `at` is not a word start). */
const continuesWord = (folded: string, at: number): boolean => {
  if (at === 0) return false;
  const before = folded.codePointAt(at - 1);
  const code =
    before !== undefined && before >= 0xdc00 && before <= 0xdfff && at >= 2 ? folded.codePointAt(at - 2) : before;
  if (code === undefined) return false;
  const char = String.fromCodePoint(code);
  return WORD.test(char) && !CJK.test(char);
};

/**
 * Whether `text` matches the query — the same answer as `matchText(...) !== null`, without computing ranges: for
 * scanning many texts, then computing ranges only for those shown.
 */
export const matchesQuery = (text: string, terms: readonly QueryTerm[]): boolean => {
  if (terms.length === 0 || text.length === 0) return false;
  const folded = quickFold(text);
  return terms.every((term) => {
    if (term.kind !== 'word') return folded.includes(term.text);
    return occurrences(folded, term.text).some((at) => !continuesWord(folded, at));
  });
};

/**
 * Where the query's terms are in `text` (original offsets, sorted, overlaps merged), or null when some term is not
 * there. An empty query matches nothing.
 */
export const matchText = (text: string, terms: readonly QueryTerm[]): MatchRange[] | null => {
  if (terms.length === 0 || text.length === 0) return null;
  // Every kind of term is a substring of the folded text where it matches: most texts are ruled out here.
  const quick = quickFold(text);
  if (terms.some((term) => !quick.includes(term.text))) return null;
  const folded = foldText(text);
  const runs = runsOf(folded.text);
  const hits: { start: number; end: number }[] = [];
  for (const term of terms) {
    let found: number[];
    if (term.kind === 'word')
      found = runs.filter((r) => r.kind === 'word' && r.text.startsWith(term.text)).map((r) => r.start);
    else found = occurrences(folded.text, term.text);
    if (found.length === 0) return null;
    for (const at of found) hits.push({ start: at, end: at + term.text.length });
  }
  const ranges = hits
    .map(({ start, end }) => ({ start: folded.starts[start] ?? 0, end: folded.ends[end - 1] ?? text.length }))
    .sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: MatchRange[] = [];
  for (const range of ranges) {
    const last = merged[merged.length - 1];
    if (last && range.start <= last.end) last.end = Math.max(last.end, range.end);
    else merged.push({ ...range });
  }
  return merged;
};

/** A piece of a snippet: plain or matched text. */
export type SnippetPart = { text: string; match: boolean };

/** Whether offset `at` of `text` falls between the two halves of a surrogate pair. */
const splitsPair = (text: string, at: number): boolean => {
  const code = text.charCodeAt(at);
  return at > 0 && at < text.length && code >= 0xdc00 && code <= 0xdfff;
};

/**
 * A short excerpt of `text` around its first range, cut on code-point boundaries and marked with "…" where cut,
 * as parts to render (matched parts highlighted). Line breaks become spaces.
 */
export const snippetParts = (text: string, ranges: readonly MatchRange[]): SnippetPart[] => {
  const first = ranges[0];
  let start = first ? Math.max(0, first.start - SNIPPET_BEFORE) : 0;
  if (splitsPair(text, start)) start -= 1;
  let end = Math.min(text.length, start + SNIPPET_LENGTH);
  if (splitsPair(text, end)) end -= 1;
  const parts: SnippetPart[] = [];
  const push = (piece: string, match: boolean): void => {
    if (piece) parts.push({ text: piece.replace(/\s+/g, ' '), match });
  };
  if (start > 0) push(ELLIPSIS, false);
  let at = start;
  for (const range of ranges) {
    if (range.end <= at || range.start >= end) continue;
    push(text.slice(at, Math.max(at, range.start)), false);
    push(text.slice(Math.max(at, range.start), Math.min(end, range.end)), true);
    at = Math.min(end, range.end);
  }
  push(text.slice(at, end), false);
  if (end < text.length) push(ELLIPSIS, false);
  return parts;
};

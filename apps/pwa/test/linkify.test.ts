/**
 * Unit and property tests of the link finder (src/ui/linkify.ts): only http, https and mailto ever become an href,
 * whatever the text (hostile schemes in any case, look-alike letters, HTML in the text, credentials in the
 * address), trailing punctuation stays outside the link, and the parts always give the text back unchanged.
 */
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { linkify, type TextPart } from '../src/ui/linkify.js';

const links = (text: string): Extract<TextPart, { kind: 'link' }>[] =>
  linkify(text).filter((p): p is Extract<TextPart, { kind: 'link' }> => p.kind === 'link');

const SAFE = /^(https?:\/\/[^\s]+|mailto:[^\s]+)$/;

describe('linkify', () => {
  it('links http, https, www and mailto addresses', () => {
    expect(links('see https://example.com/a/b?c=d#e now')).toEqual([
      { kind: 'link', text: 'https://example.com/a/b?c=d#e', href: 'https://example.com/a/b?c=d#e' },
    ]);
    expect(links('HTTP://Example.COM')[0]?.href).toBe('http://example.com/');
    expect(links('go to www.example.org today')[0]).toEqual({
      kind: 'link',
      text: 'www.example.org',
      href: 'https://www.example.org/',
    });
    expect(links('write to mailto:ann@example.com.')[0]).toEqual({
      kind: 'link',
      text: 'mailto:ann@example.com',
      href: 'mailto:ann@example.com',
    });
  });

  it('never links other schemes, whatever their case', () => {
    for (const text of [
      'javascript:alert(1)',
      'JavaScript:alert(document.cookie)',
      'JAVASCRIPT://example.com/%0aalert(1)',
      'data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==',
      'vbscript:msgbox(1)',
      'file:///etc/passwd',
      'ftp://example.com/x',
      ' java\tscript:alert(1)',
    ])
      expect(links(text)).toEqual([]);
  });

  it('does not take look-alike letters or a glued prefix for a scheme', () => {
    // Cyrillic "һ" (U+04BB) and full-width letters are not "h".
    expect(links('\u04bbttps://example.com')).toEqual([]);
    expect(links('\uff48\uff54\uff54\uff50\uff53://example.com')).toEqual([]);
    expect(links('javascripthttps://example.com')).toEqual([]);
    expect(links('xhttps://example.com')).toEqual([]);
  });

  it('shows a look-alike host as typed, with the real (punycode) address as the href', () => {
    const [link] = links('https://аpple.com/login');
    expect(link?.text).toBe('https://аpple.com/login');
    expect(link?.href).toBe('https://xn--pple-43d.com/login');
  });

  it('keeps HTML in the text as text', () => {
    const parts = linkify('<a href="javascript:alert(1)">https://example.com</a>');
    expect(parts.map((p) => p.text).join('')).toBe('<a href="javascript:alert(1)">https://example.com</a>');
    expect(links('<a href="javascript:alert(1)">https://example.com</a>').map((l) => l.href)).toEqual([
      'https://example.com/',
    ]);
  });

  it('leaves sentence punctuation and unbalanced brackets outside the link', () => {
    expect(links('(see https://example.com/a).')[0]?.text).toBe('https://example.com/a');
    expect(links('https://en.wikipedia.org/wiki/Foo_(bar), ok')[0]?.text).toBe(
      'https://en.wikipedia.org/wiki/Foo_(bar)',
    );
    expect(links('看这个https://example.com/页面。')[0]?.text).toBe('https://example.com/页面');
    expect(links('really?! https://example.com!!')[0]?.text).toBe('https://example.com');
  });

  it('refuses addresses without a host, and credentials that disguise the host', () => {
    expect(links('https://')).toEqual([]);
    expect(links('http://x')).toEqual([]);
    expect(links('https://bank.example@evil.example/login')).toEqual([]);
    expect(links('mailto:')).toEqual([]);
    expect(links('mailto:?body=hi')).toEqual([]);
  });

  it('gives the text back unchanged, and every href is http, https or mailto (property)', () => {
    const pieces = fc.constantFrom(
      'https://',
      'http://',
      'mailto:',
      'javascript:',
      'data:',
      'www.',
      'example.com',
      '@',
      'a',
      '/',
      '.',
      ')',
      '(',
      ' ',
      '。',
      '<a href="',
      '">',
      '\u04bb',
      'JaVaScRiPt:',
      '%0a',
    );
    fc.assert(
      fc.property(fc.array(fc.oneof(pieces, fc.string({ maxLength: 4 })), { maxLength: 24 }), (chunks) => {
        const text = chunks.join('');
        const parts = linkify(text);
        expect(parts.map((p) => p.text).join('')).toBe(text);
        for (const part of parts) {
          if (part.kind !== 'link') continue;
          expect(part.href).toMatch(SAFE);
          expect(new URL(part.href).protocol).toMatch(/^(https?|mailto):$/);
          expect(part.text.length).toBeGreaterThan(0);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

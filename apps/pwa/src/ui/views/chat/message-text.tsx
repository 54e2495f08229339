/**
 * A message's text with its links made clickable (linkify.ts decides what is a link: only http, https and mailto):
 * each opens in a new tab, without telling the site who sent it there (`noopener noreferrer`), and a long address
 * may break after each "/". Text is rendered by React as text; no HTML from a message is ever interpreted, and
 * nothing is fetched for a link (no previews).
 */
import { Fragment, useMemo, type ReactElement, type ReactNode } from 'react';
import { linkify } from '../../linkify.js';

/** The link's text with a break opportunity after every "/" (a long path wraps at its segments, not mid-word). */
function breakable(text: string): ReactNode[] {
  const pieces = text.split('/');
  return pieces.map((piece, i) => (
    <Fragment key={i}>
      {piece}
      {i < pieces.length - 1 ? (
        <>
          /<wbr />
        </>
      ) : null}
    </Fragment>
  ));
}

export function MessageText({ text }: { text: string }): ReactElement {
  const parts = useMemo(() => linkify(text), [text]);
  return (
    <>
      {parts.map((part, i) =>
        part.kind === 'link' ? (
          <a
            key={i}
            className="message-link"
            href={part.href}
            target="_blank"
            rel="noopener noreferrer"
            data-testid="message-link"
            title={part.href}
          >
            {breakable(part.text)}
          </a>
        ) : (
          <Fragment key={i}>{part.text}</Fragment>
        ),
      )}
    </>
  );
}

/**
 * Quotes: the preview above the composer while replying to (or editing) a message, with a button to cancel, and the
 * quoted block inside a reply's bubble, which scrolls to the original when it is on screen. Display only.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { QuotedMessage } from '../../../app/model.js';
import { IconClose } from '../../icons.js';

export type ComposerMode =
  { kind: 'reply'; messageId: string; text: string; byMe: boolean } | { kind: 'edit'; messageId: string; text: string };

export function QuotePreview({ mode, onCancel }: { mode: ComposerMode; onCancel: () => void }): ReactElement {
  const { t } = useTranslation();
  const title =
    mode.kind === 'edit' ? t('actions.editing') : mode.byMe ? t('actions.replyingToSelf') : t('actions.replyingTo');
  return (
    <div className="quote-preview" data-testid="quote-preview" data-mode={mode.kind}>
      <div className="quote-preview-body">
        <span className="quote-author">{title}</span>
        <span className="quote-text">{mode.text}</span>
      </div>
      <button
        type="button"
        className="icon-button"
        data-testid="quote-preview-cancel"
        aria-label={mode.kind === 'edit' ? t('actions.cancelEdit') : t('actions.cancelReply')}
        onClick={onCancel}
      >
        <IconClose />
      </button>
    </div>
  );
}

/** The id a bubble row carries, so a quote can find its original (same author side and send time). */
export const quoteAnchorId = (byMe: boolean, sentAt: number | null): string =>
  `msg-${byMe ? 'out' : 'in'}-${sentAt ?? 'x'}`;

export function QuotedBlock({
  quote,
  onOpen,
}: {
  quote: QuotedMessage;
  /** Scrolls to the original; false when it is not loaded (then nothing happens). */
  onOpen: (anchorId: string) => void;
}): ReactElement {
  const { t } = useTranslation();
  return (
    <button
      type="button"
      className="quoted"
      data-testid="quoted-message"
      onClick={() => onOpen(quoteAnchorId(quote.byMe, quote.sentAt))}
    >
      <span className="quote-author">{quote.byMe ? t('actions.you') : t('actions.them')}</span>
      <span className="quote-text">{quote.text}</span>
    </button>
  );
}

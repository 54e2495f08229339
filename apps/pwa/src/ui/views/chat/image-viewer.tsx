/**
 * The full-screen photo viewer (loaded on first use): the decrypted photo fitted to the screen, a download button
 * and a close button. Esc closes it, and so does the browser's or phone's back: opening pushes a history entry
 * that back pops. It shows what it is given and decrypts nothing itself.
 */
import { useEffect, useRef, type ReactElement } from 'react';
import { createPortal } from 'react-dom';
import { useTranslation } from 'react-i18next';
import { IconClose, IconDownload } from '../../icons.js';

/** The history entry the viewer adds, so back closes it instead of leaving the chat. */
const VIEWER_STATE = 'cove:image-viewer';

export function ImageViewer({
  url,
  fileName,
  alt,
  onClose,
}: {
  /** An object URL of the verified photo. */
  url: string;
  fileName: string;
  alt: string;
  onClose: () => void;
}): ReactElement {
  const { t } = useTranslation();
  const closeButton = useRef<HTMLButtonElement>(null);
  const closeRef = useRef(onClose);
  closeRef.current = onClose;

  useEffect(() => {
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    globalThis.history.pushState({ [VIEWER_STATE]: true }, '', globalThis.location.href);
    let popped = false;
    const onPop = () => {
      popped = true;
      closeRef.current();
    };
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') {
        event.preventDefault();
        closeRef.current();
      }
    };
    globalThis.addEventListener('popstate', onPop);
    globalThis.addEventListener('keydown', onKey);
    closeButton.current?.focus();
    return () => {
      globalThis.removeEventListener('popstate', onPop);
      globalThis.removeEventListener('keydown', onKey);
      // Closed by the button or Esc: drop the entry it pushed, so back then leaves the chat as before.
      const state: unknown = globalThis.history.state;
      if (!popped && state !== null && typeof state === 'object' && VIEWER_STATE in state) globalThis.history.back();
      opener?.focus();
    };
  }, []);

  return createPortal(
    <div
      className="image-viewer"
      data-testid="image-viewer"
      role="dialog"
      aria-modal="true"
      aria-label={t('attachment.viewer')}
    >
      <div className="image-viewer-bar">
        <a
          className="icon-button"
          href={url}
          download={fileName}
          data-testid="viewer-download"
          aria-label={t('attachment.download')}
        >
          <IconDownload />
        </a>
        <button
          ref={closeButton}
          type="button"
          className="icon-button"
          data-testid="viewer-close"
          aria-label={t('attachment.close')}
          onClick={onClose}
        >
          <IconClose />
        </button>
      </div>
      <img className="image-viewer-image" src={url} alt={alt} />
    </div>,
    document.body,
  );
}

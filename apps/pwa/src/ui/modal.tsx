/**
 * A modal `<dialog>` with a titled header and a close button, opened as it mounts; Escape and the button call
 * `onClose`. Shared by the message-action dialogs and the settings confirmations. Display only.
 */
import { useEffect, useRef, type ReactElement, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { IconClose } from './icons.js';

export function Modal({
  titleId,
  title,
  testId,
  onClose,
  children,
}: {
  titleId: string;
  title: string;
  testId: string;
  onClose: () => void;
  children: ReactNode;
}): ReactElement {
  const { t } = useTranslation();
  const dialog = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const el = dialog.current;
    if (el && !el.open) el.showModal();
  }, []);
  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby={titleId}
      data-testid={testId}
      onClose={onClose}
      onCancel={onClose}
    >
      <header className="dialog-header">
        <h2 id={titleId}>{title}</h2>
        <button type="button" className="icon-button" onClick={onClose} aria-label={t('common.close')}>
          <IconClose />
        </button>
      </header>
      {children}
    </dialog>
  );
}

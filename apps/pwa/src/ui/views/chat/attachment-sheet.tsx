/**
 * The sheet shown before files are sent (loaded on first use): photos are re-encoded without their metadata first
 * (location, camera details) and shown as they will be sent, other files by name and size; an optional caption goes
 * with the first item. Send hands the prepared items to `onSend`; nothing is uploaded before that. A photo this
 * browser cannot decode is said so and sent as a file.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { OutgoingFile, PreparedImageView } from '../../../app/model.js';
import { formatBytes } from '../../format.js';
import { IconFile } from '../../icons.js';
import { useApp } from '../../use-app.js';

/** Longest caption accepted: the pointer's bound (content.bounds.ts). */
const MAX_CAPTION_CHARS = 2_000;

type Item = { file: File; image: PreparedImageView | null; undecodable: boolean; previewUrl: string | null };

export function AttachmentSheet({
  files,
  onCancel,
  onSend,
}: {
  files: readonly File[];
  onCancel: () => void;
  onSend: (items: OutgoingFile[]) => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const [items, setItems] = useState<Item[] | null>(null);
  const [caption, setCaption] = useState('');
  const captionInput = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let live = true;
    const made: string[] = [];
    void (async () => {
      const prepared: Item[] = [];
      for (const file of files) {
        if (!app.chat.isImage(file.type)) {
          prepared.push({ file, image: null, undecodable: false, previewUrl: null });
          continue;
        }
        const image = await app.chat.prepareImage(file);
        const previewUrl = image ? URL.createObjectURL(image.blob) : null;
        if (previewUrl) made.push(previewUrl);
        prepared.push({ file, image, undecodable: image === null, previewUrl });
      }
      if (live) setItems(prepared);
    })();
    return () => {
      live = false;
      for (const url of made) URL.revokeObjectURL(url);
    };
  }, [app, files]);

  useEffect(() => {
    if (items) captionInput.current?.focus();
  }, [items]);

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape') onCancel();
    };
    globalThis.addEventListener('keydown', onKey);
    return () => globalThis.removeEventListener('keydown', onKey);
  }, [onCancel]);

  const send = () => {
    if (!items) return;
    const text = caption.trim().slice(0, MAX_CAPTION_CHARS);
    onSend(
      items.map((item, i): OutgoingFile => {
        const base = { fileName: item.file.name || null, ...(i === 0 && text ? { caption: text } : {}) };
        if (!item.image) return { ...base, blob: item.file, contentType: item.file.type || 'application/octet-stream' };
        return {
          ...base,
          blob: item.image.blob,
          contentType: item.image.contentType,
          width: item.image.width,
          height: item.image.height,
          thumbnail: item.image.thumbnail,
        };
      }),
    );
  };

  const hasImage = items?.some((i) => i.image) ?? false;
  return (
    <div className="sheet-backdrop" role="presentation" onClick={onCancel}>
      <div
        className="attachment-sheet"
        data-testid="attachment-preview"
        role="dialog"
        aria-modal="true"
        aria-labelledby="attachment-sheet-title"
        onClick={(e) => e.stopPropagation()}
      >
        <h2 id="attachment-sheet-title">{t('attachment.previewTitle', { count: files.length })}</h2>
        {items === null ? (
          <p className="muted" role="status">
            {t('attachment.preparing')}
          </p>
        ) : (
          <ul className="attachment-sheet-items">
            {items.map((item, i) => (
              <li key={i} className="attachment-sheet-item">
                {item.previewUrl ? (
                  <img src={item.previewUrl} alt={item.file.name} data-testid="attachment-preview-image" />
                ) : (
                  <span className="attachment-sheet-file">
                    <IconFile />
                    <span className="attachment-file-name">{item.file.name}</span>
                    <span className="muted">{formatBytes(item.file.size, i18n.language)}</span>
                  </span>
                )}
                {item.undecodable ? <p className="muted small">{t('attachment.notDecodable')}</p> : null}
              </li>
            ))}
          </ul>
        )}
        {hasImage ? <p className="muted small">{t('attachment.metadataRemoved')}</p> : null}
        <label className="visually-hidden" htmlFor="attachment-caption">
          {t('attachment.caption')}
        </label>
        <input
          id="attachment-caption"
          ref={captionInput}
          data-testid="attachment-caption"
          type="text"
          maxLength={MAX_CAPTION_CHARS}
          placeholder={t('attachment.caption')}
          value={caption}
          onChange={(e) => setCaption(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.nativeEvent.isComposing) {
              e.preventDefault();
              send();
            }
          }}
        />
        <div className="sheet-actions">
          <button type="button" className="secondary" data-testid="attachment-cancel" onClick={onCancel}>
            {t('attachment.cancel')}
          </button>
          <button
            type="button"
            className="primary"
            data-testid="attachment-send"
            disabled={items === null}
            onClick={send}
          >
            {t('attachment.send')}
          </button>
        </div>
      </div>
    </div>
  );
}

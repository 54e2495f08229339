/**
 * The attachments inside a message bubble: a photo (the sender's thumbnail at once, the full image once it is
 * downloaded and verified, tap for the full-screen viewer), a file card (type icon, name, size, download), a plain
 * voice-note line (its player is the voice feature's), progress bars for uploads and downloads, "tap to download"
 * above the auto-download size, and a clear error instead of a broken image when a file failed its check or the
 * server refused it. Every value comes bounded from the view data; a file name is only ever text or a `download`
 * attribute, never a URL. Decrypted photos are kept as object URLs for a while so scrolling does not decrypt again.
 */
import { lazy, Suspense, useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AttachmentFailure, AttachmentView, ChatMessage } from '../../../app/model.js';
import { formatBytes, formatDuration } from '../../format.js';
import { IconDownload, IconFile } from '../../icons.js';
import { useApp, useAppState } from '../../use-app.js';
import { VoicePlayer } from './voice-player.js';

/** The full-screen viewer is loaded the first time a photo is opened. */
const ImageViewer = lazy(async () => ({ default: (await import('./image-viewer.js')).ImageViewer }));

/** Decrypted photos kept as object URLs: a screenful or two of a chat, released oldest first beyond it. */
const KEPT_IMAGE_URLS = 48;
const imageUrls = new Map<string, string>();

function keepImageUrl(key: string, url: string): void {
  imageUrls.set(key, url);
  while (imageUrls.size > KEPT_IMAGE_URLS) {
    const [oldest, oldUrl] = imageUrls.entries().next().value ?? [];
    if (oldest === undefined || oldUrl === undefined) break;
    imageUrls.delete(oldest);
    URL.revokeObjectURL(oldUrl);
  }
}

/**
 * The box a photo takes before it loads, from the pointer's dimensions: width capped by CSS, the ratio clamped so
 * a hostile 1×65535 cannot make a bubble kilometres tall.
 */
function aspect(a: AttachmentView): string | undefined {
  if (!a.width || !a.height) return undefined;
  const ratio = Math.min(Math.max(a.width / a.height, 1 / 3), 3);
  return String(ratio);
}

/** The name a saved file gets: the sender's (already free of control characters) or a neutral one. */
const saveName = (a: AttachmentView, fallback: string): string => (a.fileName ?? fallback).slice(0, 255);

/** Saves a Blob under `name` through a temporary object URL (the browser's download, nothing rendered). */
function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.rel = 'noopener';
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

function ProgressBar({ sent, total, label }: { sent: number | null; total: number; label: string }): ReactElement {
  const percent = sent === null || total <= 0 ? null : Math.min(100, Math.max(0, Math.round((sent / total) * 100)));
  return (
    <div
      className={`attachment-progress${percent === null ? ' indeterminate' : ''}`}
      data-testid="attachment-progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      {...(percent === null ? {} : { 'aria-valuenow': percent })}
    >
      <span style={percent === null ? undefined : { width: `${percent}%` }} />
    </div>
  );
}

/** Downloads on demand or automatically; reports the failure of the last attempt. */
function useDownload(message: ChatMessage, a: AttachmentView) {
  const app = useApp();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<AttachmentFailure | null>(null);
  const started = useRef(false);
  const download = async (): Promise<boolean> => {
    setBusy(true);
    setFailure(null);
    const result = await app.chat.download(message.id, a.index);
    setBusy(false);
    setFailure(result);
    return result === null;
  };
  useEffect(() => {
    // Small files are fetched as soon as they are shown, also when another context stored the message.
    if (message.outgoing || a.state !== 'remote' || !a.autoDownload || started.current) return;
    started.current = true;
    void download();
  }, [a.state, a.autoDownload, message.outgoing]);
  return { busy, failure, download };
}

function Failure({ failure, onRetry }: { failure: AttachmentFailure; onRetry?: () => void }): ReactElement {
  const { t } = useTranslation();
  return (
    <div className="attachment-error" data-testid="attachment-error" data-error={failure} role="alert">
      <p>{t(`attachment.failure.${failure}`)}</p>
      {onRetry ? (
        <button type="button" className="link-button" data-testid="attachment-retry" onClick={onRetry}>
          {t('attachment.retry')}
        </button>
      ) : null}
    </div>
  );
}

/** Upload progress of an outgoing attachment while its message is being sent. */
function UploadProgress({ message, a }: { message: ChatMessage; a: AttachmentView }): ReactElement | null {
  const { t } = useTranslation();
  const progress = useAppState().progress.get(`${message.id}#${a.index}`);
  if (!message.outgoing || message.status !== 'sending') return null;
  return (
    <ProgressBar
      sent={progress?.direction === 'upload' ? progress.sent : null}
      total={progress?.total ?? 0}
      label={t('attachment.uploading')}
    />
  );
}

function DownloadProgress({ message, a }: { message: ChatMessage; a: AttachmentView }): ReactElement {
  const { t } = useTranslation();
  const progress = useAppState().progress.get(`${message.id}#${a.index}`);
  return (
    <ProgressBar
      sent={progress?.direction === 'download' ? progress.sent : null}
      total={progress?.total ?? 0}
      label={t('attachment.downloading')}
    />
  );
}

function ImageAttachment({ message, a }: { message: ChatMessage; a: AttachmentView }): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const key = `${message.id}#${a.index}`;
  const [url, setUrl] = useState<string | null>(() => imageUrls.get(key) ?? null);
  const [openFailure, setOpenFailure] = useState<AttachmentFailure | null>(null);
  const [viewing, setViewing] = useState(false);
  /** The verified bytes are no image this browser can show (the sender's doing): it becomes a file card. */
  const [undecodable, setUndecodable] = useState(false);
  const { busy, failure, download } = useDownload(message, a);

  useEffect(() => {
    if (a.state !== 'local' || url) return;
    let live = true;
    void (async () => {
      const blob = await app.chat.open(message.id, a.index, 'view');
      if (!live) return;
      if (typeof blob === 'string') {
        setOpenFailure(blob);
        return;
      }
      const made = URL.createObjectURL(blob);
      keepImageUrl(key, made);
      setUrl(made);
    })();
    return () => {
      live = false;
    };
  }, [app, a.state, a.index, key, message.id, url]);

  const error = a.state === 'failed' ? (a.error ?? 'unavailable') : (openFailure ?? failure);
  if (undecodable) return <FileAttachment message={message} a={a} />;
  if (error === 'unverified' || (a.state === 'failed' && !busy))
    return (
      <Failure
        failure={error ?? 'unavailable'}
        {...(error === 'unverified' ? {} : { onRetry: () => void download() })}
      />
    );
  const ratio = aspect(a);
  return (
    <div className="attachment-image-box" style={ratio ? { aspectRatio: ratio } : undefined}>
      {url ? (
        <button
          type="button"
          className="attachment-image-button"
          aria-label={t('attachment.open')}
          onClick={() => setViewing(true)}
        >
          <img
            src={url}
            alt={a.caption ?? t('attachment.photo')}
            data-testid="attachment-image"
            onError={() => setUndecodable(true)}
          />
        </button>
      ) : a.thumbnail ? (
        <img src={a.thumbnail} alt="" className="attachment-thumbnail" data-testid="attachment-thumbnail" />
      ) : (
        <div className="attachment-placeholder" aria-hidden="true" />
      )}
      {a.state === 'remote' && !message.outgoing ? (
        <div className="attachment-overlay">
          {busy ? (
            <DownloadProgress message={message} a={a} />
          ) : error ? (
            <Failure failure={error} onRetry={() => void download()} />
          ) : (
            <button
              type="button"
              className="attachment-download-chip"
              data-testid="attachment-download"
              onClick={() => void download()}
            >
              <IconDownload /> {t('attachment.tapToDownload', { size: formatBytes(a.size, i18n.language) })}
            </button>
          )}
        </div>
      ) : null}
      <UploadProgress message={message} a={a} />
      {viewing && url ? (
        <Suspense fallback={null}>
          <ImageViewer
            url={url}
            fileName={saveName(a, t('attachment.photo'))}
            alt={a.caption ?? t('attachment.photo')}
            onClose={() => setViewing(false)}
          />
        </Suspense>
      ) : null}
    </div>
  );
}

/** A type icon's label: the broad kind of a MIME type, shown as a short tag next to the icon. */
function typeTag(contentType: string): string {
  if (contentType === 'application/pdf') return 'PDF';
  const [major, minor = ''] = contentType.split('/');
  const tags: Readonly<Record<string, string>> = { image: 'IMG', audio: 'AUD', video: 'VID', text: 'TXT' };
  if (major !== undefined && Object.hasOwn(tags, major)) return tags[major] ?? 'FILE';
  if (/zip|tar|compressed|7z|rar/.test(minor)) return 'ZIP';
  return 'FILE';
}

function FileAttachment({ message, a }: { message: ChatMessage; a: AttachmentView }): ReactElement {
  const { t, i18n } = useTranslation();
  const app = useApp();
  const { busy, failure, download } = useDownload(message, a);
  const [saveFailure, setSaveFailure] = useState<AttachmentFailure | null>(null);
  const [saving, setSaving] = useState(false);
  const name = a.fileName ?? (a.voiceNote ? t('attachment.voice') : t('attachment.file'));

  const save = async () => {
    setSaveFailure(null);
    setSaving(true);
    try {
      if (a.state !== 'local' && !(await download())) return;
      const blob = await app.chat.open(message.id, a.index, 'save');
      if (typeof blob === 'string') setSaveFailure(blob);
      else saveBlob(blob, saveName(a, t('attachment.file')));
    } finally {
      setSaving(false);
    }
  };

  const error = a.state === 'failed' ? (a.error ?? 'unavailable') : (saveFailure ?? failure);
  return (
    <div className="attachment-file" data-testid="attachment-file">
      <span className="attachment-file-icon" aria-hidden="true">
        <IconFile />
        <span className="attachment-file-tag">{typeTag(a.contentType)}</span>
      </span>
      <span className="attachment-file-text">
        <span className="attachment-file-name" data-testid="attachment-file-name" title={name}>
          {name}
        </span>
        <span className="attachment-file-size muted">
          {a.voiceNote && a.durationMs !== null ? `${formatDuration(a.durationMs)} · ` : ''}
          {formatBytes(a.size, i18n.language)}
        </span>
      </span>
      {error !== 'unverified' ? (
        <button
          type="button"
          className="icon-button attachment-file-download"
          data-testid="attachment-download"
          aria-label={`${t('attachment.download')}: ${name}`}
          disabled={busy || saving}
          onClick={() => void save()}
        >
          <IconDownload />
        </button>
      ) : null}
      {busy ? <DownloadProgress message={message} a={a} /> : null}
      <UploadProgress message={message} a={a} />
      {error ? <Failure failure={error} {...(error === 'unverified' ? {} : { onRetry: () => void save() })} /> : null}
    </div>
  );
}

/** Every attachment of a message, in order. */
export function MessageAttachments({ message }: { message: ChatMessage }): ReactElement | null {
  if (!message.attachments?.length) return null;
  return (
    <div className="attachments">
      {message.attachments.map((a) =>
        a.kind === 'image' ? (
          <ImageAttachment key={a.index} message={message} a={a} />
        ) : a.kind === 'voice' && message.voice?.index === a.index ? (
          <VoicePlayer key={a.index} messageId={message.id} voice={message.voice} outgoing={message.outgoing} />
        ) : (
          <FileAttachment key={a.index} message={message} a={a} />
        ),
      )}
    </div>
  );
}

/**
 * The message composer: the text field, growing with its text up to about six lines and scrolling beyond (on a
 * keyboard Enter sends and Shift+Enter breaks the line; on a touch screen Enter breaks the line and the send button
 * sends; nothing during IME composition), the conversation's draft (read when the chat opens, saved after a pause
 * in typing and when leaving the chat, cleared by `onSend`), the emoji picker (loaded on first open; the chosen emoji goes in at the caret), the voice-note
 * recorder (its button shows while the field is empty) and the send button, with the user's typing notices
 * (started on input, stopped after a pause, on clearing the field or on leaving the chat). Sending hands the
 * trimmed text to `onSend`. Files come from the attach button (a file picker, several at once), on touch devices
 * also from the camera, and from pasting; they go to `onFiles` (the chat shows the preview sheet). `textOnly`
 * (a group: the core sends texts there) leaves out files, the camera and voice notes.
 */
import {
  lazy,
  Suspense,
  useEffect,
  useLayoutEffect,
  useRef,
  useState,
  type ClipboardEvent,
  type KeyboardEvent,
  type ReactElement,
  type ReactNode,
} from 'react';
import { useTranslation } from 'react-i18next';
import { IconCamera, IconPaperclip, IconSend, IconSmile } from '../../icons.js';
import { useApp } from '../../use-app.js';
import { RecordButton, RecordingBar, RecordingFailureNotice, useVoiceRecorder } from './voice-recorder-bar.js';

/** The picker and its emoji database load only when first opened, so the first screen's bundle does not grow. */
const EmojiPicker = lazy(() => import('./emoji-picker.js').then((m) => ({ default: m.EmojiPicker })));

/** Stop announcing "typing" after this long without a keystroke (Signal uses a similar few seconds). */
const TYPING_IDLE_MS = 3_000;
/** Save the draft this long after the last keystroke: one sealed write per pause, not one per key. */
const DRAFT_SAVE_MS = 400;
/** The field grows up to this many lines, then scrolls (Signal and WhatsApp stop at about six too). */
const MAX_LINES = 6;

/**
 * Whether the main pointer is a finger (a phone or tablet without a mouse): there Enter breaks the line, as the
 * on-screen keyboard's return key does in Signal and WhatsApp, and the send button sends.
 */
const touchFirst = (): boolean => window.matchMedia?.('(hover: none) and (pointer: coarse)').matches === true;
export function Composer({
  conversationId,
  onSend,
  onFiles,
  banner,
  preset,
  textOnly = false,
}: {
  /** Only text (and emoji) can be sent here. */
  textOnly?: boolean;
  conversationId: string;
  onSend: (text: string) => void;
  onFiles: (files: File[]) => void;
  /** Shown above the field (the reply or edit preview). */
  banner?: ReactNode;
  /** Text to put in the field when it changes (editing a message); `key` changes with each request. */
  preset?: { key: string; text: string } | null;
}): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [draft, setDraft] = useState('');
  const [emojiOpen, setEmojiOpen] = useState(false);
  const input = useRef<HTMLTextAreaElement>(null);
  const filePicker = useRef<HTMLInputElement>(null);
  const camera = useRef<HTMLInputElement>(null);
  const typingTimer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const voice = useVoiceRecorder(conversationId);
  /** The text waiting to be saved as this conversation's draft (null: nothing pending). */
  const pendingDraft = useRef<string | null>(null);
  const draftTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  const flushDraft = () => {
    if (draftTimer.current) clearTimeout(draftTimer.current);
    draftTimer.current = null;
    const text = pendingDraft.current;
    pendingDraft.current = null;
    if (text !== null) void app.chat.saveDraft(conversationId, text).catch(() => undefined);
  };

  const noteDraft = (text: string) => {
    // Editing a sent message is not a draft of a new one.
    if (preset) return;
    pendingDraft.current = text;
    if (draftTimer.current) clearTimeout(draftTimer.current);
    // Emptying the field is deliberate and final: saved at once, so a stale draft never comes back.
    if (!text) flushDraft();
    else draftTimer.current = setTimeout(flushDraft, DRAFT_SAVE_MS);
  };

  useEffect(() => {
    // A reload, a closed tab or a switch to another app unmounts nothing: save what is pending when the page hides.
    const view = input.current?.ownerDocument.defaultView;
    if (!view) return;
    const onHide = () => {
      if (view.document.visibilityState === 'hidden') flushDraft();
    };
    view.addEventListener('pagehide', flushDraft);
    view.document.addEventListener('visibilitychange', onHide);
    return () => {
      view.removeEventListener('pagehide', flushDraft);
      view.document.removeEventListener('visibilitychange', onHide);
    };
  }, [app, conversationId]);

  useEffect(() => {
    let current = true;
    setDraft('');
    input.current?.focus();
    void app.chat.draft(conversationId).then((saved) => {
      // Only if the user has not started typing meanwhile.
      if (current && saved) setDraft((typed) => typed || saved);
    });
    return () => {
      current = false;
      // Leaving the chat (or the app unmounting it) saves what was typed at once.
      flushDraft();
    };
  }, [app, conversationId]);

  useLayoutEffect(() => {
    const field = input.current;
    const view = field?.ownerDocument.defaultView;
    if (!field || !view) return;
    // Measured from the content: shrink to one line first, then take the text's height up to MAX_LINES lines.
    const style = view.getComputedStyle(field);
    const line = parseFloat(style.lineHeight) || 23;
    const chrome =
      parseFloat(style.paddingTop) +
      parseFloat(style.paddingBottom) +
      parseFloat(style.borderTopWidth) +
      parseFloat(style.borderBottomWidth);
    field.style.height = 'auto';
    const max = Math.ceil(line * MAX_LINES + chrome);
    const wanted = field.scrollHeight + parseFloat(style.borderTopWidth) + parseFloat(style.borderBottomWidth);
    field.style.height = `${Math.min(wanted, max)}px`;
    field.style.overflowY = wanted > max ? 'auto' : 'hidden';
  }, [draft]);

  useEffect(() => {
    if (!preset) return;
    setDraft(preset.text);
    input.current?.focus();
    // Only a new preset request (its key) sets the field; typing afterwards is the user's.
  }, [preset?.key]);

  useEffect(
    () => () => {
      if (typingTimer.current) clearTimeout(typingTimer.current);
      app.chat.setTyping(conversationId, false);
    },
    [app, conversationId],
  );

  const noteTyping = (text: string) => {
    if (typingTimer.current) clearTimeout(typingTimer.current);
    if (!text) {
      app.chat.setTyping(conversationId, false);
      return;
    }
    app.chat.setTyping(conversationId, true);
    typingTimer.current = setTimeout(() => app.chat.setTyping(conversationId, false), TYPING_IDLE_MS);
  };

  const send = () => {
    const text = draft.trim();
    if (!text) return;
    setDraft('');
    if (draftTimer.current) clearTimeout(draftTimer.current);
    pendingDraft.current = null;
    // The stored draft goes with the sent message (in its commit); an edit sent from here removes it itself.
    setEmojiOpen(false);
    if (typingTimer.current) clearTimeout(typingTimer.current);
    // No "stopped typing" first: the message itself ends the indicator on the other side, one encryption sooner.
    onSend(text);
    input.current?.focus();
  };

  const picked = (list: FileList | null, reset: HTMLInputElement | null) => {
    const files = list ? Array.from(list) : [];
    // Cleared so that picking the same file again fires `change` again.
    if (reset) reset.value = '';
    if (files.length > 0) onFiles(files);
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = Array.from(event.clipboardData.files);
    if (files.length === 0 || textOnly) return;
    event.preventDefault();
    onFiles(files);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.nativeEvent.isComposing && !touchFirst()) {
      event.preventDefault();
      send();
    }
  };

  /** Puts `emoji` where the caret is (replacing a selection), and the caret after it. */
  const insertEmoji = (emoji: string) => {
    const field = input.current;
    const start = field?.selectionStart ?? draft.length;
    const end = field?.selectionEnd ?? draft.length;
    const next = draft.slice(0, start) + emoji + draft.slice(end);
    setDraft(next);
    noteTyping(next);
    noteDraft(next);
    requestAnimationFrame(() => {
      if (!field) return;
      field.focus();
      field.setSelectionRange(start + emoji.length, start + emoji.length);
    });
  };

  if (voice.phase === 'recording' || voice.phase === 'sending')
    return (
      <footer className="composer">
        <RecordingBar
          elapsedMs={voice.elapsedMs}
          sending={voice.phase === 'sending'}
          onCancel={voice.cancel}
          onSend={voice.finish}
        />
      </footer>
    );

  return (
    <footer className="composer">
      {banner}
      {voice.failure ? <RecordingFailureNotice failure={voice.failure} onDismiss={voice.dismiss} /> : null}
      {emojiOpen ? (
        <Suspense fallback={<div className="emoji-picker" aria-busy="true" />}>
          <EmojiPicker onPick={insertEmoji} />
        </Suspense>
      ) : null}
      <div className="composer-row">
        <button
          type="button"
          className="icon-button"
          data-testid="emoji-button"
          aria-label={t('chat.emoji')}
          aria-expanded={emojiOpen}
          onClick={() => setEmojiOpen((o) => !o)}
        >
          <IconSmile />
        </button>
        {textOnly ? null : (
          <>
            <button
              type="button"
              className="icon-button"
              data-testid="attach-button"
              aria-label={t('attachment.attach')}
              onClick={() => filePicker.current?.click()}
            >
              <IconPaperclip />
            </button>
            <button
              type="button"
              className="icon-button camera-button"
              data-testid="camera-button"
              aria-label={t('attachment.camera')}
              onClick={() => camera.current?.click()}
            >
              <IconCamera />
            </button>
          </>
        )}
        <input
          ref={filePicker}
          type="file"
          multiple
          hidden
          data-testid="attachment-input"
          onChange={(e) => picked(e.target.files, e.target)}
        />
        <input
          ref={camera}
          type="file"
          accept="image/*"
          capture="environment"
          hidden
          data-testid="camera-input"
          onChange={(e) => picked(e.target.files, e.target)}
        />
        <label className="visually-hidden" htmlFor="message-input">
          {t('chat.placeholder')}
        </label>
        <textarea
          id="message-input"
          ref={input}
          data-testid="message-input"
          rows={1}
          value={draft}
          placeholder={t('chat.placeholder')}
          onChange={(e) => {
            setDraft(e.target.value);
            noteTyping(e.target.value);
            noteDraft(e.target.value);
          }}
          onKeyDown={onKeyDown}
          onPaste={onPaste}
        />
        {draft.trim() || textOnly ? null : <RecordButton busy={voice.phase === 'starting'} onClick={voice.start} />}
        <button
          type="button"
          className="send-button"
          data-testid="send-button"
          aria-label={t('chat.send')}
          disabled={!draft.trim()}
          onClick={send}
        >
          <IconSend />
        </button>
      </div>
    </footer>
  );
}

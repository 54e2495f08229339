/**
 * One conversation: the header with its banners, the message history and the composer (components in `chat/`),
 * with the message actions' state: the reply or edit shown above the composer, and the info, delete and forward
 * dialogs. A message request shows its answer bar (accept, block, delete) above the composer
 * (writing accepts it, as in the core); a blocked person's chat shows unblock and delete instead of the composer. A message opened from search is scrolled to and highlighted for a moment.
 * This view loads the conversation and its newest page (growing when the user scrolls up), re-reads it when a shown
 * disappearing message's timer runs out, and marks incoming messages read while the chat is open. Files picked,
 * pasted or dropped onto the chat open the preview sheet (loaded on first use); a refusal (too large, storage full)
 * is shown above the composer in plain words. A group chat has the same composer and actions (replies, reactions,
 * edits, deletes, photos, voice notes and files), shows sender names and system lines, and once the user is no
 * longer a member says so instead of the composer.
 */
import { lazy, Suspense, useEffect, useMemo, useRef, useState, type DragEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { AttachmentFailure, OutgoingFile } from '../../app/model.js';
import { useApp, useAppState, useLive } from '../use-app.js';
import { ChatHeader } from './chat/chat-header.js';
import { Composer } from './chat/composer.js';
import { MessageList } from './chat/message-list.js';
import type { ChatMessage } from '../../app/model.js';
import type { MessageAction } from './chat/message-actions.js';
import { DeleteDialog, ForwardDialog, MessageInfoDialog } from './chat/message-info-dialog.js';
import { QuotePreview, type ComposerMode } from './chat/quote-preview.js';
import { RequestBar } from './chat/request-bar.js';

const AttachmentSheet = lazy(async () => ({ default: (await import('./chat/attachment-sheet.js')).AttachmentSheet }));

/** Messages loaded per page; more load when the user scrolls to the top. */
const PAGE = 60;
/** Re-read a moment after a disappearing message's expiry, so the reader's clock is surely past it. */
const EXPIRY_SLACK_MS = 50;
/** The longest delay setTimeout accepts (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long a message opened from search stays highlighted. */
const FOCUS_HIGHLIGHT_MS = 2_500;

export function ChatView({
  conversationId,
  focus = null,
  onBack,
  onContact,
}: {
  conversationId: string;
  /** A message to scroll to and highlight briefly (opened from search); `nonce` repeats it for the same message. */
  focus?: { messageId: string; nonce: number } | null;
  onBack: () => void;
  onContact: () => void;
}): ReactElement {
  const app = useApp();
  const { t } = useTranslation();
  const state = useAppState();
  const [picked, setPicked] = useState<File[] | null>(null);
  const [sendFailure, setSendFailure] = useState<AttachmentFailure | null>(null);
  const [dragging, setDragging] = useState(false);
  const [limit, setLimit] = useState(PAGE);
  /** Bumped when a shown disappearing message's timer runs out, so the page is read again (without it). */
  const [expiries, setExpiries] = useState(0);
  const conversation = useLive(() => app.chat.conversation(conversationId), [conversationId, expiries]);
  const page = useLive(() => app.chat.messages(conversationId, { limit }), [conversationId, limit, expiries]);
  const stickToBottom = useRef(true);
  const typing = state.typing.has(conversationId);
  const typist = state.typingBy?.get(conversationId);
  const messages = useMemo(() => (page ? [...page].reverse() : []), [page]);
  const unread = conversation?.unread ?? 0;
  const inGroup = conversation?.group === true || conversationId.startsWith('group:');
  const notices = conversation?.notices === true || conversationId === 'notices';
  // In a group the header names who is typing, as their messages name them.
  const typingName =
    inGroup && typist !== undefined
      ? (messages.find((m) => m.sender?.accountId === typist)?.sender?.name ?? null)
      : null;

  useEffect(() => {
    setLimit(PAGE);
    stickToBottom.current = true;
    setPicked(null);
    setSendFailure(null);
  }, [conversationId]);

  useEffect(() => {
    if (unread > 0 && state.online !== undefined) void app.chat.markRead(conversationId);
  }, [app, conversationId, unread, state.online, state.revision]);

  useEffect(() => {
    const next = Math.min(...(page ?? []).map((m) => m.expiresAt ?? Infinity));
    if (!Number.isFinite(next)) return;
    // setTimeout takes at most 2^31-1 ms; a later expiry is re-armed by the reload this triggers.
    const delay = Math.min(Math.max(next - Date.now(), 0) + EXPIRY_SLACK_MS, MAX_TIMER_MS);
    const timer = setTimeout(() => setExpiries((n) => n + 1), delay);
    return () => clearTimeout(timer);
  }, [page]);

  // A message opened from search: load older pages until it is in, then scroll to it and mark it for a moment.
  const focused = useRef<number | null>(null);
  useEffect(() => {
    if (!focus || !page || focused.current === focus.nonce) return;
    if (!page.some((m) => m.id === focus.messageId)) {
      if (page.length >= limit) setLimit((l) => l + PAGE);
      else focused.current = focus.nonce;
      return;
    }
    focused.current = focus.nonce;
    stickToBottom.current = false;
    const element = document.querySelector(`[data-message-id="${CSS.escape(focus.messageId)}"]`);
    if (!element) return;
    element.scrollIntoView({ block: 'center' });
    element.classList.add('search-focus');
    const timer = setTimeout(() => element.classList.remove('search-focus'), FOCUS_HIGHLIGHT_MS);
    return () => clearTimeout(timer);
  }, [focus, page, limit]);

  /** Replying to or editing a message (the composer shows it above the field), or neither. */
  const [mode, setMode] = useState<ComposerMode | null>(null);
  const [dialog, setDialog] = useState<{ kind: 'info' | 'delete' | 'forward'; message: ChatMessage } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    setMode(null);
    setDialog(null);
  }, [conversationId]);

  const failed = () => setNotice(t('actions.failed'));

  const send = (text: string) => {
    stickToBottom.current = true;
    const current = mode;
    setMode(null);
    // A new message or a reply removes the conversation's draft in the commit that stores it; an edit does not.
    if (current?.kind === 'edit') {
      void app.chat.saveDraft(conversationId, '').catch(() => undefined);
      void app.chat.edit(current.messageId, text).catch(failed);
    } else if (current?.kind === 'reply') void app.chat.reply(conversationId, current.messageId, text).catch(failed);
    else void app.chat.send(conversationId, text);
  };

  const onAction = (message: ChatMessage, action: MessageAction) => {
    setNotice(null);
    switch (action.kind) {
      case 'reply':
        setMode({ kind: 'reply', messageId: message.id, text: message.text, byMe: message.outgoing });
        return;
      case 'edit':
        setMode({ kind: 'edit', messageId: message.id, text: message.text });
        return;
      case 'react':
        void app.chat.react(message.id, action.emoji, action.remove).catch(failed);
        return;
      case 'copy':
        void app.chat.copy(message.text).then((ok) => setNotice(ok ? t('actions.copied') : t('actions.copyFailed')));
        return;
      case 'forward':
      case 'delete':
      case 'info':
        setDialog({ kind: action.kind, message });
    }
  };

  const sendFiles = (items: OutgoingFile[]) => {
    setPicked(null);
    setSendFailure(null);
    stickToBottom.current = true;
    void (async () => setSendFailure(await app.chat.sendFiles(conversationId, items)))();
  };

  const hasFiles = (event: DragEvent) => Array.from(event.dataTransfer.types).includes('Files');
  const onDragOver = (event: DragEvent) => {
    if (!hasFiles(event) || notices) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    setDragging(true);
  };
  const onDrop = (event: DragEvent) => {
    if (!hasFiles(event) || notices) return;
    event.preventDefault();
    setDragging(false);
    const files = Array.from(event.dataTransfer.files);
    if (files.length > 0) setPicked(files);
  };

  return (
    <section
      className={`chat-pane${dragging ? ' dragging' : ''}`}
      aria-labelledby="chat-title"
      data-drop-label={t('attachment.dropHere')}
      onDragOver={onDragOver}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={onDrop}
    >
      <ChatHeader
        conversation={conversation}
        typing={typing}
        typingName={typingName}
        onBack={onBack}
        onContact={onContact}
        onTimer={inGroup ? undefined : (seconds) => void app.chat.setTimer(conversationId, seconds).catch(failed)}
      />
      <MessageList
        key={conversationId}
        messages={messages}
        loaded={page !== undefined}
        hasMore={page !== undefined && page.length >= limit}
        typing={typing}
        stickToBottom={stickToBottom}
        onLoadMore={() => setLimit((l) => l + PAGE)}
        onRetry={(messageId) => void app.chat.retry(conversationId, messageId)}
        actions={{ canModify: (m) => app.chat.canModify(m), onAction }}
        inGroup={inGroup || notices}
        readOnly={notices}
        peerName={conversation?.title ?? ''}
      />
      {sendFailure ? (
        <p className="error composer-error" role="alert" data-testid="attachment-send-error" data-error={sendFailure}>
          {t(`attachment.failure.${sendFailure}`)}
        </p>
      ) : null}
      {notice ? (
        <p className="action-notice" role="status" data-testid="action-notice">
          {notice}
        </p>
      ) : null}
      {conversation?.blocked || conversation?.request ? (
        <RequestBar conversation={conversation} onGone={onBack} />
      ) : null}
      {notices ? (
        <p className="composer-closed muted" role="status" data-testid="notices-read-only">
          {t('notices.readOnly')}
        </p>
      ) : conversation?.inactive ? (
        <p className="composer-closed muted" role="status" data-testid="group-inactive">
          {t('group.inactive')}
        </p>
      ) : conversation?.blocked ? null : (
        <Composer
          conversationId={conversationId}
          onSend={send}
          onFiles={setPicked}
          banner={mode ? <QuotePreview mode={mode} onCancel={() => setMode(null)} /> : null}
          preset={mode?.kind === 'edit' ? { key: mode.messageId, text: mode.text } : null}
        />
      )}
      {dialog?.kind === 'info' ? <MessageInfoDialog message={dialog.message} onClose={() => setDialog(null)} /> : null}
      {dialog?.kind === 'delete' ? (
        <DeleteDialog
          message={dialog.message}
          forEveryone={app.chat.canModify(dialog.message)}
          onClose={() => setDialog(null)}
          onDelete={(everyone) => {
            const { id } = dialog.message;
            setDialog(null);
            void (everyone ? app.chat.deleteForEveryone(id) : app.chat.deleteForMe(id)).catch(failed);
          }}
        />
      ) : null}
      {dialog?.kind === 'forward' ? (
        <ForwardDialog
          currentConversationId={conversationId}
          onClose={() => setDialog(null)}
          onForward={(to) => {
            const { id } = dialog.message;
            setDialog(null);
            void app.chat.forward(id, to).then(() => setNotice(t('actions.forwarded')), failed);
          }}
        />
      ) : null}
      {picked ? (
        <Suspense fallback={null}>
          <AttachmentSheet files={picked} onCancel={() => setPicked(null)} onSend={sendFiles} />
        </Suspense>
      ) : null}
    </section>
  );
}

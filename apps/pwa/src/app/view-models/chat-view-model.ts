/**
 * One conversation's view model: its summary and pages of history (read from storage), sending, retrying,
 * marking read and the message actions (reply, react, edit, delete, forward, info: through the core), and the user's own typing notices, throttled so a long burst of keystrokes
 * sends "started" once per refresh interval and "stopped" only after a "started". Attachments: files are streamed
 * from their Blob into the core (never read whole here), photos re-encoded without metadata first (the platform's
 * media), downloads and the verified plaintext handed to the view. It renders nothing and keeps no timers of its
 * own; the view decides when the user stopped typing.
 */
import type { AppSession } from '../app-session.js';
import { summarizeConversation } from '../conversation-summaries.js';
import { groupNames, withFormerMembers } from '../group-names.js';
import { MODIFY_WINDOW_MS } from '@cove/protocol';
import type {
  AttachmentFailure,
  ChatMessage,
  ChatScreen,
  ConversationSummary,
  MessageInfoView,
  OutgoingFile,
  PreparedImageView,
} from '../model.js';
import { safeContentType, timeOrNull, toChatMessage } from '../view-data.js';

/** Images handed to an `<img>` as what they are; anything else is opened as opaque bytes (downloaded, never shown). */
const VIEWABLE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif']);

/** A Blob's bytes as pieces, read as the encryptor consumes them (a 100 MiB file is never in memory whole). */
async function* piecesOf(blob: Blob): AsyncIterable<Uint8Array> {
  const reader = blob.stream().getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

/** Re-send "typing started" at most this often while the user keeps typing. */
export const TYPING_REFRESH_MS = 10_000;

export class ChatViewModel implements ChatScreen {
  /** When "started" was last sent, per conversation; absent once "stopped" (or a message) was sent. */
  private readonly ownTyping = new Map<string, number>();

  constructor(
    private readonly session: AppSession,
    private readonly now: () => number = () => Date.now(),
  ) {}

  async conversation(id: string): Promise<ConversationSummary | undefined> {
    const reader = this.session.reader();
    return reader ? summarizeConversation(reader, id) : undefined;
  }

  async messages(conversationId: string, options: { before?: string; limit: number }): Promise<ChatMessage[]> {
    const reader = this.session.reader();
    if (!reader) return [];
    const [entries, current] = await Promise.all([
      reader.messages(conversationId, options),
      groupNames(reader, conversationId),
    ]);
    const values = entries.map((e) => e.value);
    const names = current && (await withFormerMembers(reader, current, values));
    // A chat opened at start (a notification's link) is the first screen: the core may load once it is painted.
    this.session.firstScreenShown();
    return entries.map((e) => toChatMessage(e.key, e.value, conversationId, names));
  }

  async accept(conversationId: string): Promise<void> {
    await (await this.session.requireMessenger()).accept(conversationId);
    this.session.store.bump();
  }

  async block(conversationId: string): Promise<void> {
    await (await this.session.requireMessenger()).block(conversationId);
    this.session.store.bump();
  }

  async deleteConversation(conversationId: string): Promise<void> {
    this.ownTyping.delete(conversationId);
    await (await this.session.requireMessenger()).deleteConversation(conversationId);
    this.session.store.bump();
  }

  async send(conversationId: string, text: string): Promise<void> {
    // The message itself ends the indicator on the other side, so the next keystroke announces typing again.
    this.ownTyping.delete(conversationId);
    await (await this.session.requireMessenger()).sendText(conversationId, text);
  }

  async sendFiles(conversationId: string, files: readonly OutgoingFile[]): Promise<AttachmentFailure | null> {
    const messenger = await this.session.requireMessenger();
    for (const file of files) {
      const failure = await messenger.sendAttachment(conversationId, {
        source: piecesOf(file.blob),
        contentType: safeContentType(file.contentType),
        ...(file.fileName ? { fileName: file.fileName } : {}),
        ...(file.caption ? { caption: file.caption } : {}),
        ...(file.width ? { width: file.width } : {}),
        ...(file.height ? { height: file.height } : {}),
        ...(file.thumbnail && file.thumbnail.length > 0 ? { thumbnail: file.thumbnail } : {}),
        ...(file.voiceNote ? { voiceNote: true } : {}),
        ...(file.durationMs !== undefined ? { durationMs: file.durationMs } : {}),
        ...(file.waveform ? { waveform: file.waveform } : {}),
      });
      if (failure) return failure;
    }
    return null;
  }

  isImage(type: string): boolean {
    return this.session.platform.media.isImageType(type);
  }

  prepareImage(file: Blob): Promise<PreparedImageView | null> {
    return this.session.platform.media.prepareImage(file);
  }

  async download(messageId: string, index: number): Promise<AttachmentFailure | null> {
    return (await this.session.requireMessenger()).downloadAttachment(messageId, index);
  }

  async open(messageId: string, index: number, purpose: 'view' | 'save'): Promise<Blob | AttachmentFailure> {
    const messenger = await this.session.requireMessenger();
    const stored = await this.session.reader()?.message(messageId);
    const type = safeContentType(stored?.attachments?.[index]?.contentType);
    // Only known image types are given their type, and only for viewing; a save is opaque bytes, so a hostile
    // `text/html` can never be rendered by the browser from this origin.
    return messenger.openAttachment(
      messageId,
      index,
      purpose === 'view' && VIEWABLE_TYPES.has(type) ? type : 'application/octet-stream',
    );
  }

  async retry(_conversationId: string, messageId: string): Promise<void> {
    await (await this.session.requireMessenger()).retry(messageId);
  }

  async markRead(conversationId: string): Promise<void> {
    await (await this.session.requireMessenger()).markRead(conversationId);
  }

  async reply(conversationId: string, messageId: string, text: string): Promise<void> {
    this.ownTyping.delete(conversationId);
    await (await this.session.requireMessenger()).sendText(conversationId, text, messageId);
  }

  async react(messageId: string, emoji: string, remove: boolean): Promise<void> {
    await (await this.session.requireMessenger()).react(messageId, emoji, remove);
  }

  async edit(messageId: string, text: string): Promise<void> {
    await (await this.session.requireMessenger()).edit(messageId, text);
  }

  async deleteForMe(messageId: string): Promise<void> {
    await (await this.session.requireMessenger()).deleteForMe(messageId);
  }

  async deleteForEveryone(messageId: string): Promise<void> {
    await (await this.session.requireMessenger()).deleteForEveryone(messageId);
  }

  async forward(messageId: string, toConversationId: string): Promise<void> {
    await (await this.session.requireMessenger()).forward(messageId, toConversationId);
  }

  async info(messageId: string): Promise<MessageInfoView | null> {
    const info = await (await this.session.requireMessenger()).messageInfo(messageId);
    if (!info) return null;
    return {
      sentAt: timeOrNull(info.sentAt),
      serverAt: timeOrNull(info.serverTimestamp),
      editedAt: timeOrNull(info.editedAt),
      recipients: info.recipients.map((r) => ({
        name: r.username ?? r.accountId.slice(0, 8),
        deliveredAt: timeOrNull(r.deliveredAt),
        readAt: timeOrNull(r.readAt),
      })),
    };
  }

  copy(text: string): Promise<boolean> {
    return this.session.platform.capabilities.copyText(text);
  }

  canModify(message: ChatMessage): boolean {
    return (
      message.outgoing &&
      !message.deleted &&
      message.status !== 'failed' &&
      message.sentAt !== null &&
      this.now() - message.sentAt < MODIFY_WINDOW_MS
    );
  }

  async setTimer(conversationId: string, seconds: number | null): Promise<void> {
    await (await this.session.requireMessenger()).setExpireTimer(conversationId, seconds);
  }

  async draft(conversationId: string): Promise<string> {
    return (await this.session.reader()?.draft(conversationId)) ?? '';
  }

  async saveDraft(conversationId: string, text: string): Promise<void> {
    await (await this.session.requireMessenger()).setDraft(conversationId, text);
    // The list's "Draft: …" preview reads it back on the next revision.
    this.session.store.bump();
  }

  setTyping(conversationId: string, typing: boolean): void {
    const messenger = this.session.messenger();
    if (!messenger) return;
    const last = this.ownTyping.get(conversationId);
    const now = this.now();
    if (typing) {
      if (last !== undefined && now - last < TYPING_REFRESH_MS) return;
      this.ownTyping.set(conversationId, now);
    } else {
      if (last === undefined) return;
      this.ownTyping.delete(conversationId);
    }
    void messenger.typing(conversationId, typing).catch(() => undefined);
  }
}

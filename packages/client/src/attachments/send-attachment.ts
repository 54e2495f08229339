/**
 * Sending a message with an attachment: the file is encrypted into the local blob store and its upload created
 * (size and quota are refused here, before anything is stored), then the history entry (status `sending`, with the
 * attachment) and the outbox entry (the encoded content with the pointer, and the upload state) are committed in ONE
 * batch. The outbox then uploads (resuming after restarts and dropped connections) and sends the message. It does
 * not upload or send itself.
 */
import type { MessengerContext } from '../context.js';
import { encodeDataMessage } from '../content-builder.js';
import { readMeta } from '../meta.js';
import { storeOutgoingMessage } from '../outgoing-message.js';
import type { AttachmentEntry, MessageEntry, PendingUpload } from '../tables.js';
import type { OutgoingAttachment } from './attachment-service.js';
import { pointerOf, prepareOutgoing } from './attachment-service.js';
import { deleteUpload } from './tus-client.js';

export const sendAttachmentMessage = async (
  ctx: MessengerContext,
  accountId: string,
  input: OutgoingAttachment & { expireTimerSeconds?: number },
): Promise<MessageEntry> => {
  const { entry: attachment, upload } = await prepareOutgoing(ctx, input);
  try {
    return await commitAttachmentMessage(ctx, accountId, input, attachment, upload);
  } catch (error) {
    // Nothing refers to the blob or the upload (a caption out of bounds, storage failing): neither is kept.
    await ctx.platform.attachments?.delete(attachment.blobId);
    await deleteUpload(ctx, upload.uploadUrl);
    throw error;
  }
};

const commitAttachmentMessage = async (
  ctx: MessengerContext,
  accountId: string,
  input: OutgoingAttachment & { expireTimerSeconds?: number },
  attachment: AttachmentEntry,
  upload: PendingUpload,
): Promise<MessageEntry> => {
  const timestamp = ctx.timestamps.next();
  const profile = await readMeta(ctx.platform.storage, 'profile');
  // The caption travels in the pointer (per attachment) and as the message text, so older readers still show it.
  const text = input.caption ?? '';
  const content = encodeDataMessage({
    text,
    timestamp,
    senderUsername: profile?.username,
    expireTimerSeconds: input.expireTimerSeconds ?? null,
    attachments: [pointerOf(attachment)],
  });
  return storeOutgoingMessage(ctx, accountId, {
    timestamp,
    text,
    quote: null,
    expireTimerSeconds: input.expireTimerSeconds ?? null,
    content,
    attachments: [attachment],
    uploads: [upload],
  });
};

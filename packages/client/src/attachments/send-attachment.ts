/**
 * Sending a message with an attachment: the file is encrypted into the local blob store and its upload created
 * (size and quota are refused here, before anything is stored), then the history entry (status `sending`, with the
 * attachment) and the outbox entry (the encoded content with the pointer, and the upload state) are committed in ONE
 * batch. When the server cannot be reached, the message is queued all the same, its upload to be created later. The
 * uploader then uploads (resuming after restarts and dropped connections) and the outbox sends the message. It does
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

/** A well-formed storage id, used only to check a message's bounds before its upload exists; never stored. */
const DEFERRED_STORAGE_ID_CHECK = 'deferred';

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
    if (upload.uploadUrl !== null) await deleteUpload(ctx, upload.uploadUrl);
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
  const encode = (pointer: AttachmentEntry): Uint8Array =>
    encodeDataMessage({
      text,
      timestamp,
      senderUsername: profile?.username,
      expireTimerSeconds: input.expireTimerSeconds ?? null,
      attachments: [pointerOf(pointer)],
    });
  // An upload not created yet (server unreachable) has no storage id: the content is checked now with a stand-in id
  // (a caption out of bounds is refused at once), and encoded for real by the uploader once the upload exists.
  let content: Uint8Array;
  if (upload.uploadUrl === null) {
    encode({ ...attachment, storageId: DEFERRED_STORAGE_ID_CHECK });
    content = new Uint8Array(0);
  } else {
    content = encode(attachment);
  }
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

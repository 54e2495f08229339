/**
 * Local attachment blobs of messages: deleting them with their message (deleted by the user or expired). It
 * touches only the platform's blob store, never rows.
 */
import type { Platform } from '../platform.js';
import type { MessageEntry } from '../tables.js';

export const deleteAttachmentBlobs = async (platform: Platform, message: MessageEntry): Promise<void> => {
  const store = platform.attachments;
  if (!store || !message.attachments) return;
  for (const attachment of message.attachments) {
    await store
      .delete(attachment.blobId)
      .catch((error: unknown) =>
        platform.logger.warn('attachment blob not deleted', { error: error instanceof Error ? error.name : 'unknown' }),
      );
  }
};

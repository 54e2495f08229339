/**
 * Sweeps of stored data that runs out: disappearing messages whose timer ran out (deleted under their peer's lock,
 * with the conversation summary corrected and events emitted after each commit), re-send log entries past their
 * window, budgets whose window is over and processed-envelope marks past their retention. Readers already hide
 * what is due; these only reclaim space. It schedules nothing (the messenger runs them on connect and on a timer).
 */
import { BUDGET_WINDOW_MS, PROCESSED_ENVELOPE_RETENTION_MS } from './constants.js';
import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { deleteAttachmentBlobs } from './attachments/attachment-blobs.js';
import { EXPIRY_PREFIX, deleteMessage, putConversation, withoutExpired } from './history.js';
import { asBudget } from './meta.js';
import type { Platform, WriteOp } from './platform.js';
import type { ConversationEntry } from './tables.js';
import { BUDGET_PREFIX, conversationOfMessageKey, directPeerOf } from './tables.js';

/**
 * Deletes disappearing messages whose timer ran out (returns how many) and re-send log entries past their window.
 * Runs on connect and every minute while connected; reads hide both at once, before any sweep.
 */
export const sweepExpired = async (ctx: MessengerContext): Promise<number> => {
  const { storage, clock, locks } = ctx.platform;
  await pruneResendLog(ctx.platform);
  const due = (await storage.list('meta', { prefix: EXPIRY_PREFIX, limit: 500 })).filter(
    ({ key }) => Number(key.slice(EXPIRY_PREFIX.length, EXPIRY_PREFIX.length + 16)) <= clock.now(),
  );
  let removed = 0;
  for (const { key, value: messageId } of due) {
    if (typeof messageId !== 'string') continue;
    const conversationId = conversationOfMessageKey(messageId);
    const outcome = await locks.withLock(peerLock(directPeerOf(conversationId) ?? conversationId), async () => {
      const message = await storage.get('messages', messageId);
      const writes: WriteOp[] = [{ op: 'delete', table: 'meta', key }];
      let conversation: ConversationEntry | undefined;
      if (message) {
        writes.push(...deleteMessage(message));
        // The summary stops counting it and pointing at it, as reads already showed.
        const current = await storage.get('conversations', conversationId);
        const updated = current && (await withoutExpired(storage, current, [message], clock.now()));
        if (updated && updated !== current) {
          conversation = updated;
          writes.push(putConversation(updated));
        }
      }
      await storage.commit(writes);
      // Its attachments' local blobs go with it (after the commit: a crash leaves only unreferenced ciphertext).
      if (message) await deleteAttachmentBlobs(ctx.platform, message);
      return { gone: message !== undefined, conversation };
    });
    if (outcome.gone) {
      removed += 1;
      emit(ctx, { type: 'message-removed', conversationId, messageId });
    }
    if (outcome.conversation) emit(ctx, { type: 'conversation-updated', conversation: outcome.conversation });
  }
  return removed;
};

/** Deletes re-send log entries whose window is over (oldest first, a bounded batch per call). */
export const pruneResendLog = async ({ storage, clock }: Platform): Promise<void> => {
  const due = (await storage.list('resendLog', { prefix: 'x/', limit: 500 })).filter(
    ({ key }) => Number(key.slice(2, 18)) <= clock.now(),
  );
  if (due.length === 0) return;
  await storage.commit(
    due.flatMap(({ key, value }): WriteOp[] => [
      { op: 'delete', table: 'resendLog', key },
      ...(typeof value === 'string' ? [{ op: 'delete' as const, table: 'resendLog' as const, key: value }] : []),
    ]),
  );
};

/** Deletes budgets whose window is over and processed-envelope marks past their retention. */
export const pruneProcessed = async ({ storage, clock }: Platform): Promise<void> => {
  const writes: WriteOp[] = [];
  for (const { key, value } of await storage.list('meta', { prefix: BUDGET_PREFIX })) {
    const budget = asBudget(value);
    if (budget && clock.now() - budget.windowStart >= BUDGET_WINDOW_MS)
      writes.push({ op: 'delete', table: 'meta', key });
  }
  for (const { key, value } of await storage.list('processedEnvelopes')) {
    if (clock.now() - value.at > PROCESSED_ENVELOPE_RETENTION_MS)
      writes.push({ op: 'delete', table: 'processedEnvelopes', key });
  }
  if (writes.length > 0) await storage.commit(writes);
};

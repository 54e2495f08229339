/**
 * Drafts: the unsent text of a conversation, kept in the `meta` table under `draft/<conversationId>` so a platform
 * that seals its rows at rest (the PWA) seals drafts like every other row. Saving an empty draft removes it. It does
 * not decide when to save (the UI does, after a pause in typing and on send) and sends nothing.
 */
import { MAX_TEXT_BYTES } from '@cove/protocol';

import { ClientError, ClientErrorCode } from './errors.js';
import type { KeyValueStorage, WriteOp } from './platform.js';

/** Meta keys of drafts; a conversation id contains no "/", so the prefix scan lists exactly the drafts. */
export const DRAFT_PREFIX = 'draft/';

export const draftKey = (conversationId: string): string => `${DRAFT_PREFIX}${conversationId}`;

/** The write that removes a conversation's draft (alone, or in the commit of the message it became). */
export const deleteDraftOp = (conversationId: string): WriteOp => ({
  op: 'delete',
  table: 'meta',
  key: draftKey(conversationId),
});

const utf8 = new TextEncoder();

/** Stores (or, when `text` is empty or blank, removes) a conversation's draft. */
export const saveDraft = async (storage: KeyValueStorage, conversationId: string, text: string): Promise<void> => {
  if (typeof conversationId !== 'string' || conversationId.length === 0 || conversationId.includes('/'))
    throw new ClientError(ClientErrorCode.InvalidInput, 'not a conversation id');
  if (typeof text !== 'string') throw new ClientError(ClientErrorCode.InvalidInput, 'a draft is text');
  // A draft is a message not sent yet: it obeys the message's limit, so it can always be sent as it is.
  if (utf8.encode(text).length > MAX_TEXT_BYTES)
    throw new ClientError(ClientErrorCode.InvalidInput, `the draft is longer than ${MAX_TEXT_BYTES} bytes`);
  await storage.commit(
    text.trim().length === 0
      ? [deleteDraftOp(conversationId)]
      : [{ op: 'put', table: 'meta', key: draftKey(conversationId), value: text }],
  );
};

/** A conversation's draft, or the empty string; a stored value that is not text reads as none. */
export const readDraft = async (storage: KeyValueStorage, conversationId: string): Promise<string> => {
  const value: unknown = await storage.get('meta', draftKey(conversationId));
  return typeof value === 'string' ? value : '';
};

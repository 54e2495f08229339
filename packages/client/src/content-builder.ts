/**
 * Builds the Content of a data message (text, timestamp, the sender's username, an optional quote and timer) in one
 * place, for a first send and for a retry, and encodes it. Input that breaks the codec's bounds becomes an
 * InvalidInput error. It stores and sends nothing.
 */
import { encodeContent } from '@cove/protocol';
import type { AttachmentPointer, Content, GroupContext, Quote } from '@cove/protocol';

import { ClientError, ClientErrorCode } from './errors.js';

export type DataMessageFields = {
  text: string;
  timestamp: number;
  senderUsername: string | null | undefined;
  quote?: Quote | null | undefined;
  expireTimerSeconds?: number | null | undefined;
  attachments?: AttachmentPointer[] | null | undefined;
  /** Group messages: the group and the revision we hold. */
  group?: GroupContext | null | undefined;
  /** Our profile key, when the peer does not have its current version yet (1:1 only). */
  profileKey?: Uint8Array | null | undefined;
  /** Only sets the 1:1 conversation's disappearing-message timer (to `expireTimerSeconds`; absent: off). */
  expireTimerUpdate?: boolean;
  /** An organization notice: our role certificate and its signature (notices.ts). */
  notice?: { roleCertificate: Uint8Array; roleCertificateSignature: Uint8Array };
};

export const dataContent = (fields: DataMessageFields): Content => ({
  kind: 'data',
  data: {
    text: fields.text,
    timestamp: fields.timestamp,
    ...(fields.senderUsername ? { senderUsername: fields.senderUsername } : {}),
    ...(fields.quote ? { quote: fields.quote } : {}),
    ...(fields.expireTimerSeconds ? { expireTimerSeconds: fields.expireTimerSeconds } : {}),
    ...(fields.attachments && fields.attachments.length > 0 ? { attachments: fields.attachments } : {}),
    ...(fields.group ? { group: fields.group } : {}),
    ...(fields.profileKey ? { profileKey: fields.profileKey } : {}),
    ...(fields.expireTimerUpdate ? { expireTimerUpdate: true } : {}),
    ...(fields.notice ? { notice: fields.notice } : {}),
  },
});

/** The encoded data message (unpadded), or InvalidInput when a value is out of the codec's bounds. */
export const encodeDataMessage = (fields: DataMessageFields): Uint8Array => {
  try {
    return encodeContent(dataContent(fields));
  } catch (error) {
    throw new ClientError(ClientErrorCode.InvalidInput, error instanceof Error ? error.message : 'invalid message');
  }
};

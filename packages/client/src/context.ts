/**
 * The shared state of one running messenger (platform, account, API client, history, events, sequencers) that the
 * inbox, outbox and facade all use, plus the lock names and helpers they share. No behaviour of its own.
 */
import type { ApiClient } from './api-client.js';
import type { ServerConnection } from './connection.js';
import type { EventHub, MessengerEvent } from './events.js';
import type { History } from './history.js';
import type { EventSink, Platform } from './platform.js';
import { ProtocolZone } from './protocol-zone.js';
import type { IdentityChangeNotice } from './protocol-zone.js';
import type { AccountRecord } from './tables.js';
import type { Sequencer, TimestampSource } from './sequence.js';

export type MessengerContext = {
  platform: Platform;
  account: AccountRecord;
  api: ApiClient;
  history: History;
  hub: EventHub;
  sink: EventSink<MessengerEvent> | undefined;
  sequencer: Sequencer;
  timestamps: TimestampSource;
  connection: () => ServerConnection | null;
};

/** Everything touching one peer's sessions and conversation runs under this lock (tabs and service worker included). */
export const peerLock = (accountId: string): string => `cove:peer:${accountId}`;
/** Storage migrations run once, whichever context opens the data first (tabs, service worker, processes). */
export const STORAGE_LOCK = 'cove:storage';
/** One outbox pass at a time across tabs, service worker and processes. */
export const OUTBOX_LOCK = 'cove:outbox';
/**
 * One attachment uploader at a time across tabs and processes; held apart from OUTBOX_LOCK so that a long upload
 * never holds up the sends queued behind it.
 */
export const UPLOAD_LOCK = 'cove:uploads';

export const newZone = (ctx: MessengerContext): ProtocolZone =>
  new ProtocolZone(ctx.platform.storage, ctx.account, () => ctx.platform.clock.now());

export const emit = (ctx: MessengerContext, event: MessengerEvent): void => {
  ctx.hub.emit(event);
  try {
    ctx.sink?.emit(event);
  } catch (error) {
    ctx.platform.logger.warn('event sink failed', { error: error instanceof Error ? error.name : 'unknown' });
  }
};

/** Reports identity changes collected by a committed zone. */
export const emitIdentityChanges = async (ctx: MessengerContext, changes: IdentityChangeNotice[]): Promise<void> => {
  for (const change of changes) {
    const contact = await ctx.platform.storage.get('contacts', change.accountId);
    const identity = await ctx.platform.storage.get('identities', change.accountId);
    ctx.platform.logger.warn('identity key changed', { accountId: change.accountId });
    emit(ctx, {
      type: 'identity-changed',
      accountId: change.accountId,
      username: contact?.username ?? null,
      wasVerified: change.wasVerified,
      trust: identity?.trust ?? 'unverified',
    });
  }
};

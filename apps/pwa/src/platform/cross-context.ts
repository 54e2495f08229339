/**
 * How a page hears about the other contexts of the origin (tabs, the service worker): their committed changes
 * (BroadcastChannel notices from at-rest-storage.ts), a change of the vault key, after which a page must reload and
 * unlock again, and the server link as the tab holding the connection sees it (a new tab asks once; the holder
 * answers, and announces every change). A channel never hears its own messages, so the announcing page keeps running.
 * It does not decide anything: what a link means is the app's business.
 */
import { CONTEXT_ID } from './browser-platform.js';
import { COMMIT_CHANNEL, type CommitNotice } from './at-rest-storage.js';

/** Channel telling other tabs the vault key changed. */
const VAULT_CHANNEL = 'cove:vault';
/** Channel sharing the connection-holding tab's server link with the other tabs. */
const LINK_CHANNEL = 'cove:server-link';

/** The links a tab may report (anything else heard on the channel is ignored). */
const LINKS = ['unknown', 'online', 'connecting', 'unreachable', 'signed-out', 'removed'] as const;
type Link = (typeof LINKS)[number];

type LinkMessage = { kind: 'ask' } | { kind: 'link'; link: Link };

export type CrossContext = { announceVaultChange(): void; announceServerLink(link: Link): void };

export type OtherContextHandlers = {
  onCommit(): void;
  onServerLink(link: Link): void;
  serverLinkToShare(): Link | null;
};

const isLink = (value: unknown): value is Link =>
  typeof value === 'string' && (LINKS as readonly string[]).includes(value);

/** Listens to the other contexts (see the module comment) and returns how to speak to them. */
export function listenToOtherContexts(handlers: OtherContextHandlers): CrossContext {
  if (typeof BroadcastChannel !== 'function')
    return { announceVaultChange: () => undefined, announceServerLink: () => undefined };
  const commits = new BroadcastChannel(COMMIT_CHANNEL);
  commits.onmessage = (event: MessageEvent<CommitNotice>) => {
    if (event.data.origin !== CONTEXT_ID) handlers.onCommit();
  };
  const vault = new BroadcastChannel(VAULT_CHANNEL);
  vault.onmessage = () => globalThis.location.reload();
  const links = new BroadcastChannel(LINK_CHANNEL);
  links.onmessage = (event: MessageEvent<unknown>) => {
    const message = event.data as Partial<LinkMessage> | null;
    if (message?.kind === 'ask') {
      const link = handlers.serverLinkToShare();
      if (link) links.postMessage({ kind: 'link', link } satisfies LinkMessage);
    } else if (message?.kind === 'link' && isLink(message.link)) {
      handlers.onServerLink(message.link);
    }
  };
  links.postMessage({ kind: 'ask' } satisfies LinkMessage);
  return {
    announceVaultChange: () => vault.postMessage({ changed: true }),
    announceServerLink: (link) => links.postMessage({ kind: 'link', link } satisfies LinkMessage),
  };
}

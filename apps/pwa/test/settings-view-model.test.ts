/**
 * The settings view model's leaving and locking rules with recording fakes: deleting the account needs the username
 * typed (any case), nothing is wiped when the server step fails (and the failure is named), and on success the
 * order is server, wipe, tell the other tabs, reload; "lock now" does nothing without a passphrase. Linking: a pasted
 * URI that is not a well-formed Cove link never reaches the core, a good one reaches it normalised; wiping after a
 * removal happens only once the device was removed.
 */
import { describe, expect, it } from '@jest/globals';
import type { AppPlatform, CrossContext, Vault } from '../src/app/app-platform.js';
import type { AppSession } from '../src/app/app-session.js';
import { AppStateStore } from '../src/app/app-state-store.js';
import type { MessengerPort } from '../src/app/messenger-port.js';
import type { AppState } from '../src/app/model.js';
import { SettingsViewModel } from '../src/app/view-models/settings-view-model.js';

/** A failure as the core throws them: an Error carrying a client `code` or a server `errorCode`. */
const failure = (fields: { code?: string; errorCode?: string }): Error => Object.assign(new Error('refused'), fields);

function setup(options: { fail?: Error; passphraseSet?: boolean; phase?: AppState['phase'] } = {}) {
  const calls: string[] = [];
  const state: AppState = {
    phase: options.phase ?? { kind: 'ready', username: 'Alice_01' },
    online: true,
    server: 'online',
    connection: null,
    updateReady: false,
    revision: 0,
    typing: new Set(),
    settings: { language: null, previews: true },
    theme: 'system',
    passphraseSet: options.passphraseSet ?? false,
    notifications: 'default',
    push: 'supported',
    persisted: null,
    progress: new Map(),
  };
  const step = (name: string) => () => {
    calls.push(name);
    return options.fail === undefined ? Promise.resolve() : Promise.reject(options.fail);
  };
  const messenger = {
    logout: step('server:logout'),
    deleteAccount: step('server:delete'),
    hasPassword: () =>
      options.fail === undefined ? Promise.resolve(calls.includes('password:set')) : Promise.reject(options.fail),
    setPassword: (password: string) => {
      calls.push('password:set');
      return Promise.resolve(password.length >= 8 ? 'saved' : 'invalid');
    },
    removePassword: () => {
      calls.push('password:remove');
      return Promise.resolve('saved');
    },
    stop: () => {
      calls.push('stop');
      return Promise.resolve();
    },
    addDevice: (uri: string) => {
      calls.push(`server:addDevice ${uri}`);
      return Promise.resolve({ ok: true });
    },
    removeDevice: (id: number) => {
      calls.push(`server:removeDevice ${id}`);
      return Promise.resolve({ ok: true });
    },
  } as unknown as MessengerPort;
  const vault = {
    wipe: () => {
      calls.push('wipe');
      return Promise.resolve();
    },
  } as unknown as Vault;
  const platform = {
    capabilities: { reload: () => calls.push('reload') },
    theme: { write: (theme: string) => calls.push(`theme:${theme}`) },
  } as unknown as AppPlatform;
  const session: AppSession = {
    store: new AppStateStore(state),
    platform,
    vault: () => vault,
    profile: () => null,
    reader: () => null,
    messenger: () => messenger,
    requireMessenger: () => Promise.resolve(messenger),

    firstScreenShown: () => undefined,
  };
  const cross: CrossContext = {
    announceVaultChange: () => calls.push('announce'),
    announceServerLink: () => undefined,
  };
  const permissions = {
    requestPersistence: () => Promise.resolve(true),
    enableNotifications: () => Promise.resolve('granted' as const),
  };
  const model = new SettingsViewModel(
    session,
    permissions,
    () => cross,
    () => Promise.resolve(),
    10,
  );
  return { model, calls, session };
}

describe(SettingsViewModel.name, () => {
  it('should set and remove the password through the core, and say "unknown" when it cannot ask', async () => {
    const { model, calls } = setup();
    await expect(model.hasPassword()).resolves.toBe(false);
    await expect(model.setPassword('correct horse')).resolves.toBe('saved');
    await expect(model.hasPassword()).resolves.toBe(true);
    await expect(model.removePassword()).resolves.toBe('saved');
    expect(calls).toEqual(['password:set', 'password:remove']);
    const offline = setup({ fail: failure({ code: 'server_unreachable' }) });
    await expect(offline.model.hasPassword()).resolves.toBeNull();
  });

  it('should delete only with the username typed, then wipe, tell the other tabs and reload, in that order', async () => {
    const { model, calls } = setup();
    await expect(model.deleteAccount('alice_02')).resolves.toEqual({ ok: false, error: 'wrong-confirmation' });
    await expect(model.deleteAccount('')).resolves.toEqual({ ok: false, error: 'wrong-confirmation' });
    expect(calls).toEqual([]);
    await expect(model.deleteAccount(' ALICE_01 ')).resolves.toEqual({ ok: true });
    expect(calls).toEqual(['server:delete', 'wipe', 'announce', 'reload']);
  });

  it('should wipe nothing when the server step fails, and name why', async () => {
    const offline = setup({ fail: failure({ code: 'server_unreachable' }) });
    await expect(offline.model.logout()).resolves.toEqual({ ok: false, error: 'network' });
    expect(offline.calls).toEqual(['server:logout']);
    const linked = setup({ fail: failure({ code: 'invalid_input' }) });
    await expect(linked.model.deleteAccount('alice_01')).resolves.toEqual({ ok: false, error: 'not-primary' });
    const forbidden = setup({ fail: failure({ errorCode: 'forbidden' }) });
    await expect(forbidden.model.deleteAccount('alice_01')).resolves.toEqual({ ok: false, error: 'not-primary' });
    const broken = setup({ fail: new Error('boom') });
    await expect(broken.model.logout()).resolves.toEqual({ ok: false, error: 'other' });
    for (const { calls } of [linked, forbidden, broken]) expect(calls).not.toContain('wipe');
  });

  it('should log out, wipe and reload; lock only with a passphrase; keep the theme choice in the state', async () => {
    const { model, calls, session } = setup();
    await expect(model.logout()).resolves.toEqual({ ok: true });
    expect(calls).toEqual(['server:logout', 'wipe', 'announce', 'reload']);
    calls.length = 0;
    model.lockNow();
    expect(calls).toEqual([]);
    const locked = setup({ passphraseSet: true });
    locked.model.lockNow();
    expect(locked.calls).toEqual(['announce', 'reload']);
    model.setTheme('dark');
    expect(calls).toEqual(['theme:dark']);
    expect(session.store.get().theme).toBe('dark');
  });

  it('should refuse a pasted link that is not a Cove link before the core sees it, and pass a good one normalised', async () => {
    const { model, calls } = setup();
    const key = `BQ${'k'.repeat(38)}abcd`;
    const uri = `cove://link?uuid=${'a'.repeat(22)}&pub_key=${key}`;
    expect(model.checkLinkUri('javascript:alert(1)')).toEqual({ ok: false, error: 'not-link' });
    await expect(model.addDevice('javascript:alert(1)')).resolves.toEqual({ ok: false, error: 'invalid' });
    await expect(model.addDevice(`${uri}&then=https://evil.example`)).resolves.toEqual({ ok: false, error: 'invalid' });
    expect(calls).toEqual([]);
    await expect(model.addDevice(`\n  ${uri}  `)).resolves.toEqual({ ok: true });
    await expect(model.removeDevice(3)).resolves.toEqual({ ok: true });
    expect(calls).toEqual([`server:addDevice ${uri}`, 'server:removeDevice 3']);
  });

  it('should wipe after a removal only once the device was removed: stop, wipe, tell the other tabs, reload', async () => {
    const ready = setup();
    await ready.model.wipeRemoved();
    expect(ready.calls).toEqual([]);
    const removed = setup({ phase: { kind: 'removed' } });
    await removed.model.wipeRemoved();
    expect(removed.calls).toEqual(['stop', 'wipe', 'announce', 'reload']);
  });
});

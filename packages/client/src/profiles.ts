/**
 * Encrypted profiles (Signal's model; docs/profiles.md): this account's profile key, name, about line and avatar —
 * encrypted with the key and stored on the server under the key's version, the unidentified access key derived from
 * it uploaded as an account attribute — and contacts' profile keys (taken only from content their own session
 * carried) with their profiles fetched, decrypted and cached (refetched when their key changes, else at most hourly),
 * plus the local nickname that overrides both. Rotation makes a new key, re-uploads under the new version (the old
 * one is gone from the server) and queues the new key to every contact that had the old one, except those named.
 * It does not draw, crop or re-encode images (the PWA does) and sends data messages only through the outbox.
 */
import {
  decryptProfileField,
  deriveAccessKey,
  encryptProfileField,
  generateProfileKey,
  profileFieldMaxBytes,
  profileKeyVersion,
  equalBytes,
} from '@cove/crypto';
import { encodeContent } from '@cove/protocol';

import type { MessengerContext } from './context.js';
import { emit, peerLock } from './context.js';
import { ClientError, ClientErrorCode } from './errors.js';
import { metaPut, readMeta } from './meta.js';
import { newOutboxEntry, putOutboxEntry } from './outbox.js';
import type { Random, WriteOp } from './platform.js';
import type { ContactEntry, ContactProfile, OwnProfileRecord } from './tables.js';

/** A contact's profile is refetched at most this often while their key stays the same (the brief's hourly cap). */
export const PROFILE_REFRESH_MS = 60 * 60 * 1000;
/** Longest display name: 26 user-perceived characters (graphemes), Signal's limit for given + family name. */
export const MAX_PROFILE_NAME_GRAPHEMES = 26;
/** Longest about line, in graphemes (Signal: 140). */
export const MAX_PROFILE_ABOUT_GRAPHEMES = 140;
/** Longest nickname (local only), in graphemes: as long as a profile name. */
export const MAX_NICKNAME_GRAPHEMES = MAX_PROFILE_NAME_GRAPHEMES;
/** The about emoji is one emoji of at most 32 UTF-8 bytes (its encoding's length byte allows no more). */
const MAX_ABOUT_EMOJI_BYTES = 32;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

export const graphemeCount = (text: string): number => {
  let n = 0;
  for (const _ of segmenter.segment(text)) n += 1;
  return n;
};

/** Control, bidi-override and line-breaking characters never belong in a name or an about line. */
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/;

const checkText = (value: string, max: number, what: string, maxBytes: number): string => {
  if (typeof value !== 'string') throw new ClientError(ClientErrorCode.InvalidInput, `${what} must be text`);
  const text = value.normalize('NFC').trim();
  if (FORBIDDEN.test(text))
    throw new ClientError(ClientErrorCode.InvalidInput, `${what} contains control or direction characters`);
  if (graphemeCount(text) > max)
    throw new ClientError(ClientErrorCode.InvalidInput, `${what} is longer than ${max} characters`);
  if (utf8.encode(text).length > maxBytes) throw new ClientError(ClientErrorCode.InvalidInput, `${what} is too long`);
  return text;
};

/** A fresh profile record with a new random key (registration, and the storage migration for older accounts). */
export const newOwnProfile = (random: Random, now: number): OwnProfileRecord => ({
  profileKey: generateProfileKey((n) => random.bytes(n)),
  name: '',
  about: '',
  aboutEmoji: '',
  avatar: null,
  uploadedVersion: null,
  accessKeyUploaded: false,
  keyCreatedAt: now,
});

/** This account's profile record (created on first use if an older build left none). */
export const readOwnProfile = async (ctx: MessengerContext): Promise<OwnProfileRecord> => {
  const { storage, random, clock } = ctx.platform;
  const stored = await readMeta(storage, 'ownProfile');
  if (stored) return stored;
  const created = newOwnProfile(random, clock.now());
  await storage.commit([metaPut('ownProfile', created)]);
  return created;
};

export const ownVersion = (ctx: MessengerContext, record: OwnProfileRecord): string =>
  profileKeyVersion(record.profileKey, ctx.account.accountId);

const encodeAbout = (text: string, emoji: string): Uint8Array => {
  const e = utf8.encode(emoji);
  const t = utf8.encode(text);
  const out = new Uint8Array(1 + e.length + t.length);
  out[0] = e.length;
  out.set(e, 1);
  out.set(t, 1 + e.length);
  return out;
};

const decodeAbout = (bytes: Uint8Array): { text: string; emoji: string } | null => {
  const n = bytes[0];
  if (n === undefined || n > MAX_ABOUT_EMOJI_BYTES || 1 + n > bytes.length) return null;
  try {
    return { emoji: strictUtf8.decode(bytes.subarray(1, 1 + n)), text: strictUtf8.decode(bytes.subarray(1 + n)) };
  } catch {
    return null;
  }
};

const b64 = (bytes: Uint8Array): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
};
const fromB64 = (text: string): Uint8Array => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

/**
 * Uploads the record's profile under its key's version (replacing whatever the server held) and, once per key, the
 * access key derived from it. Returns the record as the server now holds it.
 */
const publish = async (ctx: MessengerContext, record: OwnProfileRecord): Promise<OwnProfileRecord> => {
  const { accountId } = ctx.account;
  const random = (n: number): Uint8Array => ctx.platform.random.bytes(n);
  const key = record.profileKey;
  const version = ownVersion(ctx, record);
  await ctx.api.setProfile({
    version,
    ...(record.name
      ? { name: b64(encryptProfileField(key, accountId, 'name', utf8.encode(record.name), random)) }
      : {}),
    ...(record.about || record.aboutEmoji
      ? {
          about: b64(
            encryptProfileField(key, accountId, 'about', encodeAbout(record.about, record.aboutEmoji), random),
          ),
        }
      : {}),
    ...(record.avatar ? { avatar: b64(encryptProfileField(key, accountId, 'avatar', record.avatar, random)) } : {}),
  });
  if (!record.accessKeyUploaded) {
    // Only the key: whether anyone may send us sealed messages is a separate setting, left as it is.
    await ctx.api.setAccountAttributes({ unidentifiedAccessKey: b64(deriveAccessKey(key)) });
  }
  return { ...record, uploadedVersion: version, accessKeyUploaded: true };
};

/** Brings the server up to date with the stored record (after registration, an upgrade or an offline change). */
export const syncOwnProfile = async (ctx: MessengerContext): Promise<void> => {
  await ctx.platform.locks.withLock(PROFILE_LOCK, async () => {
    const record = await readOwnProfile(ctx);
    if (record.uploadedVersion === ownVersion(ctx, record) && record.accessKeyUploaded) return;
    await ctx.platform.storage.commit([metaPut('ownProfile', await publish(ctx, record))]);
  });
};

/** Serializes changes to this account's own profile (across tabs and processes sharing the storage). */
const PROFILE_LOCK = 'cove:own-profile';

export type ProfileInput = {
  name?: string;
  about?: string;
  aboutEmoji?: string;
  /** Image bytes (the PWA gives a square JPEG without metadata), or null to remove the avatar. */
  avatar?: Uint8Array | null;
};

/** Checks and stores new profile fields (absent ones unchanged), encrypted on the server first. */
export const setOwnProfile = async (ctx: MessengerContext, input: ProfileInput): Promise<OwnProfileRecord> => {
  const record = await ctx.platform.locks.withLock(PROFILE_LOCK, async () => {
    const current = await readOwnProfile(ctx);
    const next: OwnProfileRecord = { ...current };
    if (input.name !== undefined)
      next.name = checkText(input.name, MAX_PROFILE_NAME_GRAPHEMES, 'the name', profileFieldMaxBytes('name'));
    if (input.about !== undefined)
      next.about = checkText(input.about, MAX_PROFILE_ABOUT_GRAPHEMES, 'the about line', 400);
    if (input.aboutEmoji !== undefined) {
      const emoji = checkText(input.aboutEmoji, 1, 'the about emoji', MAX_ABOUT_EMOJI_BYTES);
      next.aboutEmoji = emoji;
    }
    if (input.avatar !== undefined) {
      if (input.avatar !== null && input.avatar.length > profileFieldMaxBytes('avatar'))
        throw new ClientError(
          ClientErrorCode.InvalidInput,
          `the avatar is larger than ${profileFieldMaxBytes('avatar') / 1024} KiB`,
        );
      next.avatar = input.avatar === null || input.avatar.length === 0 ? null : new Uint8Array(input.avatar);
    }
    const published = await publish(ctx, next);
    await ctx.platform.storage.commit([metaPut('ownProfile', published)]);
    return published;
  });
  emit(ctx, { type: 'profile-updated' });
  return record;
};

/**
 * Makes a new profile key (after blocking someone): the profile is re-uploaded under the new version (the server
 * drops the old one, so the old key reads nothing any more), the new access key is uploaded, and the new key is
 * queued to every contact we had shared the old one with, except `except` (account ids; the blocked person).
 */
export const rotateOwnProfileKey = async (ctx: MessengerContext, except: readonly string[] = []): Promise<void> => {
  const excluded = new Set(except.map((id) => id.toLowerCase()));
  const { storage, clock, random } = ctx.platform;
  const record = await ctx.platform.locks.withLock(PROFILE_LOCK, async () => {
    const current = await readOwnProfile(ctx);
    const rotated: OwnProfileRecord = {
      ...current,
      profileKey: generateProfileKey((n) => random.bytes(n)),
      uploadedVersion: null,
      accessKeyUploaded: false,
      keyCreatedAt: clock.now(),
    };
    // Stored before the upload: if it fails, the next sync uploads the new key's profile (never the old key again).
    await storage.commit([metaPut('ownProfile', rotated)]);
    const published = await publish(ctx, rotated);
    await storage.commit([metaPut('ownProfile', published)]);
    return published;
  });
  const version = ownVersion(ctx, record);
  const content = encodeContent({ kind: 'profile-key', profileKey: record.profileKey });
  for (const { key: accountId, value: contact } of await storage.list('contacts')) {
    if (contact.sharedProfileKeyVersion === undefined || excluded.has(accountId)) continue;
    await ctx.platform.locks.withLock(peerLock(accountId), async () => {
      const latest = (await storage.get('contacts', accountId)) ?? contact;
      const entry = newOutboxEntry(ctx, {
        destination: accountId,
        kind: 'profile-key',
        timestamp: ctx.timestamps.next(),
        content,
      });
      await storage.commit([
        putOutboxEntry(entry),
        { op: 'put', table: 'contacts', key: accountId, value: { ...latest, sharedProfileKeyVersion: version } },
      ]);
    });
  }
  emit(ctx, { type: 'profile-updated' });
};

/**
 * Our profile key for a message to `accountId` when they do not have its current version yet (the first message,
 * and the first after a rotation), with the contact write that records it as shared; null when they have it.
 * Called under the peer's lock, in the commit that stores the message.
 */
export const profileKeyToShare = async (
  ctx: MessengerContext,
  accountId: string,
): Promise<{ profileKey: Uint8Array; shared: (contact: ContactEntry) => ContactEntry } | null> => {
  // Both at once: one storage round trip on every send instead of two in a row.
  const [record, contact] = await Promise.all([readOwnProfile(ctx), ctx.platform.storage.get('contacts', accountId)]);
  const version = ownVersion(ctx, record);
  if (contact?.sharedProfileKeyVersion === version) return null;
  return { profileKey: record.profileKey, shared: (c) => ({ ...c, sharedProfileKeyVersion: version }) };
};

/**
 * The writes that take `profileKey` as `peer`'s key — `peer` being the account whose authenticated session carried
 * it, never an account the content names — dropping their cached profile when it changed. Empty when unchanged.
 */
export const acceptProfileKey = async (
  ctx: MessengerContext,
  peer: string,
  profileKey: Uint8Array,
): Promise<WriteOp[]> => {
  const contact = await ctx.platform.storage.get('contacts', peer);
  if (contact?.profileKey && equalBytes(contact.profileKey, profileKey)) return [];
  const base: ContactEntry = contact ?? { accountId: peer, username: null, devices: null, updatedAt: 0 };
  const { profile: _dropped, ...rest } = base;
  return [
    {
      op: 'put',
      table: 'contacts',
      key: peer,
      value: { ...rest, profileKey: new Uint8Array(profileKey), updatedAt: ctx.platform.clock.now() },
    },
  ];
};

const decryptText = (key: Uint8Array, accountId: string, field: 'name', value?: string): string | null => {
  if (value === undefined) return null;
  try {
    return strictUtf8.decode(decryptProfileField(key, accountId, field, fromB64(value)));
  } catch {
    return null;
  }
};

/** Fetches and decrypts an account's profile with its key; a field that fails to decrypt is absent. */
const fetchProfile = async (
  ctx: MessengerContext,
  accountId: string,
  key: Uint8Array,
): Promise<{ name: string | null; about: string | null; aboutEmoji: string | null; avatar: Uint8Array | null }> => {
  const response = await ctx.api.getProfile(accountId, profileKeyVersion(key, accountId));
  let about: { text: string; emoji: string } | null = null;
  let avatar: Uint8Array | null = null;
  if (response?.about !== undefined) {
    try {
      about = decodeAbout(decryptProfileField(key, accountId, 'about', fromB64(response.about)));
    } catch {
      about = null;
    }
  }
  if (response?.avatar !== undefined) {
    try {
      avatar = decryptProfileField(key, accountId, 'avatar', fromB64(response.avatar));
    } catch {
      avatar = null;
    }
  }
  return {
    name: decryptText(key, accountId, 'name', response?.name) || null,
    about: about?.text || null,
    aboutEmoji: about?.emoji || null,
    avatar: avatar && avatar.length > 0 ? avatar : null,
  };
};

/**
 * On a newly linked device holding the account's profile key (from the provisioning message): the profile's fields as
 * the server holds them, so that an edit here keeps what another device set. Best effort; changes nothing on the server.
 */
export const restoreOwnProfile = async (ctx: MessengerContext): Promise<void> => {
  const record = await readOwnProfile(ctx);
  const fields = await fetchProfile(ctx, ctx.account.accountId, record.profileKey);
  await ctx.platform.locks.withLock(PROFILE_LOCK, async () => {
    const latest = await readOwnProfile(ctx);
    // Changed here meanwhile (an edit or a rotation): that is newer than what was fetched.
    if (!equalBytes(latest.profileKey, record.profileKey) || latest.name || latest.about || latest.avatar) return;
    await ctx.platform.storage.commit([
      metaPut('ownProfile', {
        ...latest,
        name: fields.name ?? '',
        about: fields.about ?? '',
        aboutEmoji: fields.aboutEmoji ?? '',
        avatar: fields.avatar,
      }),
    ]);
  });
  emit(ctx, { type: 'profile-updated' });
};

/**
 * The account's profile key as another of its devices holds it (a profile sync): taken when it differs from ours —
 * that device rotated it and already uploaded the profile and the access key under it. Empty when unchanged.
 */
export const acceptOwnProfileKey = async (ctx: MessengerContext, profileKey: Uint8Array): Promise<WriteOp[]> => {
  const current = await readOwnProfile(ctx);
  if (equalBytes(current.profileKey, profileKey)) return [];
  const key = new Uint8Array(profileKey);
  return [
    metaPut('ownProfile', {
      ...current,
      profileKey: key,
      uploadedVersion: profileKeyVersion(key, ctx.account.accountId),
      accessKeyUploaded: true,
      keyCreatedAt: ctx.platform.clock.now(),
    }),
  ];
};

/**
 * After another device of the account changed the profile: its fields as the server now holds them, under the
 * current key, replace the ones stored here. Changes nothing on the server.
 */
export const refreshOwnProfile = async (ctx: MessengerContext): Promise<void> => {
  const record = await readOwnProfile(ctx);
  const fields = await fetchProfile(ctx, ctx.account.accountId, record.profileKey);
  await ctx.platform.locks.withLock(PROFILE_LOCK, async () => {
    const latest = await readOwnProfile(ctx);
    // The key changed meanwhile: what was fetched belongs to the old one.
    if (!equalBytes(latest.profileKey, record.profileKey)) return;
    await ctx.platform.storage.commit([
      metaPut('ownProfile', {
        ...latest,
        name: fields.name ?? '',
        about: fields.about ?? '',
        aboutEmoji: fields.aboutEmoji ?? '',
        avatar: fields.avatar,
      }),
    ]);
  });
  emit(ctx, { type: 'profile-updated' });
};

/**
 * A contact's profile: cached when fetched under their current key less than an hour ago (or `force`), else fetched
 * and decrypted. Null when we hold no key of theirs. A field that fails to decrypt is treated as absent.
 */
export const contactProfile = async (
  ctx: MessengerContext,
  accountId: string,
  options: { force?: boolean } = {},
): Promise<ContactProfile | null> => {
  const { storage, clock } = ctx.platform;
  const contact = await storage.get('contacts', accountId);
  const key = contact?.profileKey;
  if (!key) return null;
  const version = profileKeyVersion(key, accountId);
  const cached = contact.profile;
  if (cached && cached.version === version && !options.force && clock.now() - cached.fetchedAt < PROFILE_REFRESH_MS)
    return cached;
  const profile: ContactProfile = { ...(await fetchProfile(ctx, accountId, key)), version, fetchedAt: clock.now() };
  const changed = await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const latest = await storage.get('contacts', accountId);
    // The key changed while we fetched: this profile belongs to the old one.
    if (!latest?.profileKey || !equalBytes(latest.profileKey, key)) return false;
    await storage.commit([{ op: 'put', table: 'contacts', key: accountId, value: { ...latest, profile } }]);
    return true;
  });
  if (changed) emit(ctx, { type: 'contact-updated', accountId });
  return profile;
};

/** Sets (or with null / empty text, removes) the local nickname of a contact. */
export const setContactNickname = async (
  ctx: MessengerContext,
  accountId: string,
  nickname: string | null,
): Promise<void> => {
  const text =
    nickname === null ? '' : checkText(nickname, MAX_NICKNAME_GRAPHEMES, 'the nickname', MAX_NICKNAME_GRAPHEMES * 32);
  await ctx.platform.locks.withLock(peerLock(accountId), async () => {
    const { storage, clock } = ctx.platform;
    const contact = (await storage.get('contacts', accountId)) ?? {
      accountId,
      username: null,
      devices: null,
      updatedAt: clock.now(),
    };
    const { nickname: _old, ...rest } = contact;
    await storage.commit([
      { op: 'put', table: 'contacts', key: accountId, value: text ? { ...rest, nickname: text } : rest },
    ]);
  });
  emit(ctx, { type: 'contact-updated', accountId });
};

/** What to call a contact: their nickname here, else their profile name, else their username, else null. */
export const contactDisplayName = (contact: ContactEntry | undefined): string | null =>
  contact?.nickname || contact?.profile?.name || contact?.username || null;

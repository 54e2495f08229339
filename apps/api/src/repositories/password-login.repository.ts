/**
 * Password logins in progress, between OPAQUE's start and finish: the server's login state (its ephemeral key and
 * the MAC it expects; secret, and useless after the finish), the account and the throttle key, under a random login
 * id for at most `PASSWORD_LOGIN_TTL`. In Redis (`SET … PX`, taken with `GETDEL`) so a finish may reach another
 * instance than its start; in this process's memory in the embedded mode. A login id is taken once: a replayed
 * finish finds nothing. It decides nothing about what a login proves (the password service does).
 */
import type { Redis } from 'ioredis';

import type { RedisRepository } from './redis.repository.js';

export type PendingLogin = {
  /** The account the username named, or null when it named none (the answer was a fake record's). */
  accountId: string | null;
  /** The lower-cased username, the throttle's account key. */
  usernameKey: string;
  serverLoginState: string;
};

export abstract class PasswordLoginRepository {
  /** Keeps `login` under `loginId` for `ttlMs`. */
  abstract put(loginId: string, login: PendingLogin, ttlMs: number): Promise<void>;
  /** Takes the login under `loginId` (only the first caller gets it); null when unknown, expired or taken. */
  abstract take(loginId: string): Promise<PendingLogin | null>;
}

const parse = (text: string | null): PendingLogin | null => {
  if (text === null) return null;
  const value = JSON.parse(text) as Partial<PendingLogin>;
  if (typeof value.serverLoginState !== 'string' || typeof value.usernameKey !== 'string') return null;
  return {
    accountId: typeof value.accountId === 'string' ? value.accountId : null,
    usernameKey: value.usernameKey,
    serverLoginState: value.serverLoginState,
  };
};

export class RedisPasswordLoginRepository extends PasswordLoginRepository {
  private readonly client: Redis;

  constructor(private readonly redis: RedisRepository) {
    super();
    this.client = redis.connect('password-login');
  }

  private key(loginId: string): string {
    return `${this.redis.prefix}:password-login:${loginId}`;
  }

  async put(loginId: string, login: PendingLogin, ttlMs: number): Promise<void> {
    await this.client.set(this.key(loginId), JSON.stringify(login), 'PX', ttlMs);
  }

  async take(loginId: string): Promise<PendingLogin | null> {
    return parse(await this.client.getdel(this.key(loginId)));
  }
}

export class InProcessPasswordLoginRepository extends PasswordLoginRepository {
  private readonly logins = new Map<string, { login: PendingLogin; expiresAt: number }>();

  constructor(private readonly now: () => number = Date.now) {
    super();
  }

  put(loginId: string, login: PendingLogin, ttlMs: number): Promise<void> {
    const now = this.now();
    // Expired entries are swept on every put, so abandoned logins never pile up.
    for (const [id, entry] of this.logins) if (entry.expiresAt <= now) this.logins.delete(id);
    this.logins.set(loginId, { login, expiresAt: now + ttlMs });
    return Promise.resolve();
  }

  take(loginId: string): Promise<PendingLogin | null> {
    const entry = this.logins.get(loginId);
    this.logins.delete(loginId);
    return Promise.resolve(entry && entry.expiresAt > this.now() ? entry.login : null);
  }
}

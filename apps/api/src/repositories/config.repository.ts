/**
 * The server's configuration, read from the environment once and validated with zod at start: a bad value stops
 * the server with a clear message instead of surfacing later. Every variable is documented in the root README.
 * This module reads no files and opens no connections.
 */
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { z } from 'zod';

/** Repository root, so that relative defaults do not depend on the working directory of `npm start -w`. */
export const REPOSITORY_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../..');

const flag = z.enum(['on', 'off', 'true', 'false', '1', '0']).transform((v) => v === 'on' || v === 'true' || v === '1');

const EnvSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  DATA_DIR: z.string().min(1).default('./data'),
  REGISTRATION: z.enum(['open', 'invite']).default('open'),
  INVITE_CODES: z
    .string()
    .default('')
    .transform((v) =>
      v
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean),
    ),
  RATE_LIMITS: flag.default(true),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .or(z.literal('').transform(() => undefined)),
  SERVER_NAME: z.string().min(1).max(64).default('Cove'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: flag.default(false),
  PWA_DIR: z.string().min(1).default('apps/pwa/dist'),
  /** Embedded database location override (tests): `memory` keeps PGlite in memory. */
  PGLITE_DIR: z.string().min(1).optional(),
});

export type Env = z.input<typeof EnvSchema>;

export type AppConfig = {
  port: number;
  host: string;
  database: { kind: 'postgres'; url: string; poolSize: number } | { kind: 'pglite'; dir: string | null };
  dataDir: string;
  registration: 'open' | 'invite';
  inviteCodes: string[];
  rateLimits: boolean;
  redisUrl: string | undefined;
  serverName: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  trustProxy: boolean;
  pwaDir: string;
  version: string;
};

/** Thrown when the environment is invalid; the message names each bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export function parseConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const e = parsed.data;
  if (e.REGISTRATION === 'invite' && e.INVITE_CODES.length === 0) {
    throw new ConfigError('invalid configuration: INVITE_CODES must list at least one code when REGISTRATION=invite');
  }
  const abs = (p: string): string => (isAbsolute(p) ? p : resolve(REPOSITORY_ROOT, p));
  const dataDir = abs(e.DATA_DIR);
  return {
    port: e.PORT,
    host: e.HOST,
    database: e.DATABASE_URL
      ? { kind: 'postgres', url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE }
      : { kind: 'pglite', dir: e.PGLITE_DIR === 'memory' ? null : abs(e.PGLITE_DIR ?? `${dataDir}/pglite`) },
    dataDir,
    registration: e.REGISTRATION,
    inviteCodes: e.INVITE_CODES,
    rateLimits: e.RATE_LIMITS,
    redisUrl: e.REDIS_URL,
    serverName: e.SERVER_NAME,
    logLevel: e.LOG_LEVEL,
    trustProxy: e.TRUST_PROXY,
    pwaDir: abs(e.PWA_DIR),
    version: '0.1.0',
  };
}

/** Injectable holder of the validated configuration. */
export class ConfigRepository {
  constructor(readonly config: AppConfig) {}

  static fromEnv(env: Record<string, string | undefined> = process.env): ConfigRepository {
    return new ConfigRepository(parseConfig(env));
  }
}

/**
 * The `cove` command-line client on the Node platform: `register`, `send`, `listen`, `safety-number`, `verify`,
 * plus `whoami`, `conversations`, `history`, `delete`, `search`, message requests (`requests`, `accept`), the block
 * list (`block`, `unblock`, `blocked`), `logout`, `account delete`, `link` and `devices`. State lives in `--data DIR`
 * (default $COVE_DATA or ~/.cove; files
 * readable only by the owner); `--json` prints one JSON object per line for scripts; failures print one clear line
 * on stderr and exit with a code from exit-codes.ts. It adds no messaging logic of its own.
 */
import { createReadStream, promises as fs } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { Argument, Command, CommanderError } from 'commander';

import { escapeText, formatTimestamp } from '../../display.js';
import { ClientError, ClientErrorCode } from '../../errors.js';
import type { MessengerEvent } from '../../events.js';
import { HISTORY_DEFAULT_DAYS, HISTORY_DEFAULT_MESSAGES } from '../../history-transfer.js';
import type { HistoryTransferProgress } from '../../history-transfer.js';
import type { MessageEntry } from '../../tables.js';
import { directConversationId } from '../../tables.js';
import { Messenger } from '../../messenger.js';
import type { SsoGrant } from '../../sso.js';
import { validatePassword } from '../../password.js';
import { formatSafetyNumber } from '../../trust.js';
import { createNodePlatform, wipeDataDirectory } from '../node-platform.js';
import type { NodePlatform } from '../node-platform.js';
import { contentTypeOf, removeSavedCopy, saveAttachmentFile } from './attachment-files.js';
import { readAvatarFile } from './avatar-file.js';
import { ExitCode, errorCodeFor, exitCodeFor } from './exit-codes.js';
import {
  attachmentJson,
  attachmentLine,
  conversationLine,
  groupJson,
  groupLine,
  jsonLine,
  messageJson,
  messageLine,
} from './format.js';
import { groupOf } from '../../tables.js';
import { forwardCommand, serveCommands } from './ipc.js';
import { terminalQr } from './terminal-qr.js';

type GlobalOptions = { data?: string; json?: boolean };
type SendOptions = { file?: string; voice?: string; caption?: string; group?: string };
type SavedAttachment =
  | { path: string; size: number; sha256: string; contentType: string; voiceNote: boolean; caption: string | null }
  | { error: string; fileName: string | null; contentType: string; voiceNote: boolean; caption: string | null };

export type CliIo = {
  out(line: string): void;
  err(line: string): void;
  /** Resolves when the user asks `listen` to stop (SIGINT/SIGTERM). */
  stopSignal(): Promise<void>;
  /** Whether a person at a terminal can answer questions (`ask`). */
  interactive?: boolean;
  /** Asks the person at the terminal and resolves with the answer line. */
  ask?(question: string): Promise<string>;
  /** Asks for a secret at the terminal without echoing it. */
  askSecret?(question: string): Promise<string>;
  /** All of standard input (`--password-stdin`). */
  readStdin?(): Promise<string>;
};

const processIo: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stopSignal: () =>
    new Promise((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    }),
  interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
  ask: async (question) => {
    // The question goes to stderr, so stdout keeps only results.
    const prompt = createInterface({ input: process.stdin, output: process.stderr });
    try {
      return await prompt.question(question);
    } finally {
      prompt.close();
    }
  },
  askSecret: async (question) => {
    process.stderr.write(question);
    // The terminal's echo goes nowhere: the typed secret is never shown.
    const muted = new Writable({ write: (_chunk, _encoding, done) => done() });
    const prompt = createInterface({ input: process.stdin, output: muted, terminal: true });
    try {
      return await prompt.question('');
    } finally {
      prompt.close();
      process.stderr.write('\n');
    }
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
      size += chunk.length;
      // A password, not a file: more than this is a mistake (a piped file), refused before it is held in memory.
      if (size > MAX_STDIN_PASSWORD_BYTES)
        throw new ClientError(ClientErrorCode.InvalidInput, 'the password is too long');
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Four bytes per character of the longest password, with room for a line ending. */
const MAX_STDIN_PASSWORD_BYTES = 4 * 1024 + 2;

const dataDirOf = (options: GlobalOptions): string =>
  path.resolve(options.data ?? process.env.COVE_DATA ?? path.join(homedir(), '.cove'));

class Session {
  private constructor(
    readonly platform: NodePlatform,
    readonly messenger: Messenger,
  ) {}

  static async open(options: GlobalOptions, requireAccount = true): Promise<Session> {
    const platform = await createNodePlatform({ dataDir: dataDirOf(options) });
    try {
      const messenger = await Messenger.open(platform);
      if (requireAccount && !messenger.isRegistered) {
        throw new ClientError(
          ClientErrorCode.NotRegistered,
          `no account in ${dataDirOf(options)}: run "cove register" first`,
        );
      }
      return new Session(platform, messenger);
    } catch (error) {
      await platform.close();
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.messenger.close();
    await this.platform.close();
  }
}

/** The open data directory of a running `listen`, when a command was forwarded to it. */
export type SharedSession = Pick<Session, 'platform' | 'messenger'>;

export const main = async (argv: string[], io: CliIo = processIo, shared?: SharedSession): Promise<number> => {
  let exitCode: number = ExitCode.Ok;
  const withSession = async <T>(
    options: GlobalOptions,
    fn: (session: SharedSession) => Promise<T>,
    requireAccount = true,
  ): Promise<T> => {
    if (shared) return fn(shared);
    const session = await Session.open(options, requireAccount);
    try {
      return await fn(session);
    } finally {
      await session.close();
    }
  };
  const program = new Command();
  const globals = (): GlobalOptions => program.opts<GlobalOptions>();
  /** Prints a line for people (`text`, with others' text already escaped) or its JSON form. */
  const print = (text: string, json: Record<string, unknown>): void => io.out(globals().json ? jsonLine(json) : text);
  /**
   * History transfer progress (linking), on standard error: one line when a phase starts and when it ends (never a
   * line per piece), and the outcome. With --json, the same as `history-transfer` objects.
   */
  let historyStep = '';
  const historyProgress = (p: HistoryTransferProgress): void => {
    const final = p.phase === 'done' || p.phase === 'failed';
    const step = final ? p.phase : `${p.phase}:${p.done >= p.total ? 'end' : 'start'}`;
    if (step === historyStep) return;
    historyStep = step;
    if (globals().json) {
      io.err(jsonLine({ type: 'history-transfer', ...p }));
      return;
    }
    const text =
      p.phase === 'done'
        ? p.imported === undefined
          ? `history: sent ${p.total} messages`
          : `history: imported ${p.imported} messages (${p.skipped ?? 0} already here)${
              p.dropped ? `, dropped ${p.dropped} notice${p.dropped === 1 ? '' : 's'} that did not verify` : ''
            }`
        : p.phase === 'failed'
          ? `history: not transferred (${p.error ?? 'unknown'})`
          : `history: ${p.phase} ${p.done}/${p.total}`;
    io.err(text);
  };
  /** The password piped in (`--password-stdin`): everything up to one final line ending. */
  const passwordFromStdin = async (): Promise<string> => {
    if (!io.readStdin) throw new ClientError(ClientErrorCode.InvalidInput, '--password-stdin needs standard input');
    return (await io.readStdin()).replace(/\r?\n$/, '');
  };
  /** The password typed at the terminal, not echoed; without a terminal, --password-stdin is the way. */
  const passwordFromPrompt = async (question: string): Promise<string> => {
    if (!io.interactive || !io.askSecret)
      throw new ClientError(ClientErrorCode.InvalidInput, 'no terminal to ask for the password: use --password-stdin');
    return io.askSecret(question);
  };
  /** A profile as text lines (every field from others escaped). */
  const profileText = (name: string, emoji: string, about: string, avatar: Uint8Array | null): string =>
    [
      `name: ${name ? escapeText(name) : '(none)'}`,
      `about: ${about || emoji ? escapeText(`${emoji ? `${emoji} ` : ''}${about}`) : '(none)'}`,
      `avatar: ${avatar ? `${avatar.length} bytes` : '(none)'}`,
    ].join('\n');

  program
    .name('cove')
    .description('Cove: end-to-end encrypted messaging from the command line.')
    .option('--data <dir>', 'state directory (default: $COVE_DATA or ~/.cove)')
    .option('--json', 'print JSON lines instead of text')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

  /**
   * Single sign-on by the device authorization grant: prints where to sign in and the code to enter there, polls the
   * server at the interval it asks for until the person finished (or declined, or the code expired), and returns the
   * single-use grant.
   */
  const ssoDeviceGrant = async (messenger: Messenger, serverUrl: string): Promise<SsoGrant> => {
    const started = await messenger.ssoDeviceStart(serverUrl);
    const where = started.verificationUriComplete ?? started.verificationUri;
    print(
      `To sign in, open ${started.verificationUri} and enter the code ${started.userCode}` +
        `${started.verificationUriComplete ? `\n(or open ${started.verificationUriComplete})` : ''}` +
        `\nWaiting until ${formatTimestamp(started.expiresAt)}…`,
      {
        type: 'sso-device',
        verificationUri: started.verificationUri,
        ...(started.verificationUriComplete ? { verificationUriComplete: started.verificationUriComplete } : {}),
        userCode: started.userCode,
        expiresAt: started.expiresAt,
      },
    );
    if (io.interactive && !globals().json) io.err(terminalQr(where));
    let interval = started.interval;
    for (;;) {
      await sleep(interval * 1000);
      const poll = await messenger.ssoDevicePoll(serverUrl, started.handle);
      if (poll.state === 'granted') return poll.grant;
      interval = poll.interval;
    }
  };

  program
    .command('register')
    .description('create an account on a server and store its keys in the data directory')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:3000')
    .option('--username <name>', 'username (3-32 letters, digits, "_" or "."); with --sso the organization names you')
    .option(
      '--sso',
      "sign in with the organization's identity provider (servers with REGISTRATION=sso): prints an address and a " +
        'code to enter there, in any browser, and registers once you signed in',
    )
    .option('--invite <code>', 'invite code, when the server requires one')
    .option('--device-name <name>', "this device's name in the device list (encrypted: the server cannot read it)")
    .option('--password-stdin', 'also set a password (read from standard input) to log in on new devices with')
    .action(
      async (options: {
        server: string;
        username?: string;
        sso?: boolean;
        invite?: string;
        deviceName?: string;
        passwordStdin?: boolean;
      }) => {
        if (options.sso && options.username !== undefined)
          throw new ClientError(
            ClientErrorCode.InvalidInput,
            '--sso and --username do not go together: the organization names you',
          );
        if (!options.sso && options.username === undefined)
          throw new ClientError(ClientErrorCode.InvalidInput, 'a --username is required (or --sso)');
        // Read and checked before the account exists, so a bad password does not leave an account without one.
        const password = options.passwordStdin ? await passwordFromStdin() : null;
        if (password !== null) validatePassword(password);
        await withSession(
          globals(),
          async ({ messenger }) => {
            let username = options.username ?? '';
            let ssoToken: string | undefined;
            if (options.sso) {
              const grant = await ssoDeviceGrant(messenger, options.server);
              if (grant.existingAccount)
                throw new ClientError(
                  ClientErrorCode.SsoAccountExists,
                  `you already have an account (${grant.username}): link this device to it with "cove link --sso"`,
                );
              ({ username, ssoToken } = grant);
            }
            const account = await messenger.register({
              serverUrl: options.server,
              username,
              ...(ssoToken === undefined ? {} : { ssoToken }),
              ...(options.invite ? { inviteCode: options.invite } : {}),
              ...(options.deviceName === undefined ? {} : { deviceName: options.deviceName }),
            });
            print(`registered ${account.username ?? ''} (${account.accountId}) on ${account.serverUrl}`, {
              type: 'registered',
              ...account,
            });
            if (password !== null) {
              await messenger.setPassword(password);
              print('password set: log in on a new device with your username and password', { type: 'password-set' });
            }
          },
          false,
        );
      },
    );

  program
    .command('login')
    .description(
      'log this data directory in as a new device of an existing account with its username and password (set with ' +
        '"cove password set"): contacts and settings come back; messages stay on the other devices',
    )
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:3000')
    .requiredOption('--username <name>', "the account's username")
    .option('--password-stdin', 'read the password from standard input (otherwise it is asked for)')
    .option('--device-name <name>', "this device's name in the device list (encrypted: the server cannot read it)")
    .action(async (options: { server: string; username: string; passwordStdin?: boolean; deviceName?: string }) => {
      const password = options.passwordStdin ? await passwordFromStdin() : await passwordFromPrompt('Password: ');
      await withSession(
        globals(),
        async ({ messenger }) => {
          const account = await messenger.loginWithPassword({
            serverUrl: options.server,
            username: options.username,
            password,
            ...(options.deviceName === undefined ? {} : { deviceName: options.deviceName }),
          });
          print(
            `logged in as device ${account.deviceId} of ${account.username ?? '(no username)'} (${account.accountId})`,
            { type: 'logged-in', ...account },
          );
        },
        false,
      );
    });

  const passwordCommand = program
    .command('password')
    .description('the password that logs this account in on new devices (the server never learns it)');
  passwordCommand
    .command('set')
    .description('set or change the password (asked for twice, or read from standard input with --password-stdin)')
    .option('--password-stdin', 'read the new password from standard input')
    .action(async (options: { passwordStdin?: boolean }) => {
      if (shared)
        throw new ClientError(ClientErrorCode.InvalidInput, 'stop "cove listen" on this data directory first');
      let password: string;
      if (options.passwordStdin) password = await passwordFromStdin();
      else {
        password = await passwordFromPrompt('New password: ');
        validatePassword(password);
        if ((await passwordFromPrompt('Repeat the new password: ')) !== password)
          throw new ClientError(ClientErrorCode.InvalidInput, 'the two passwords differ; nothing was changed');
      }
      validatePassword(password);
      await withSession(globals(), async ({ messenger }) => {
        await messenger.setPassword(password);
        print('password set: log in on a new device with your username and password', { type: 'password-set' });
      });
    });
  passwordCommand
    .command('remove')
    .description('remove the password: the server deletes its login record and the encrypted account backup')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        await messenger.removePassword();
        print('password removed: this account can no longer log in by password', { type: 'password-removed' });
      });
    });
  passwordCommand
    .command('status')
    .description('whether this account has a password')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        const enabled = await messenger.hasPassword();
        print(enabled ? 'a password is set' : 'no password is set', { type: 'password-status', enabled });
      });
    });

  program
    .command('whoami')
    .description('show this account')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        const account = await messenger.account();
        print(
          `${account.username ?? '(no username)'} ${account.accountId} device ${account.deviceId} on ${account.serverUrl}`,
          { type: 'account', ...account },
        );
      });
    });

  /** Runs a leaving step in its own session (not through a running `listen`), then deletes the local data. */
  const leave = async (step: (messenger: Messenger) => Promise<void>): Promise<void> => {
    if (shared) throw new ClientError(ClientErrorCode.InvalidInput, 'stop "cove listen" on this data directory first');
    await withSession(globals(), ({ messenger }) => step(messenger));
    await wipeDataDirectory(dataDirOf(globals()));
  };

  program
    .command('logout')
    .description('sign this device out (a linked device is removed from the account) and delete its local data')
    .action(async () => {
      let outcome = '';
      await leave(async (messenger) => {
        outcome = await messenger.logout();
      });
      print(
        outcome === 'device-removed'
          ? 'logged out: this device was removed from the account and its data deleted'
          : 'logged out: local data deleted (the primary device cannot be removed; the account stays on the server)',
        { type: 'logged-out', outcome },
      );
    });

  program
    .command('account')
    .description('manage the account')
    .command('delete')
    .description('delete the account on the server (primary device only) and the local data: cannot be undone')
    .option('--yes', 'confirm: the account, its username and everything the server holds for it are deleted')
    .action(async (options: { yes?: boolean }) => {
      if (!options.yes)
        throw new ClientError(
          ClientErrorCode.InvalidInput,
          'this deletes the account for good: run "cove account delete --yes" to confirm',
        );
      await leave((messenger) => messenger.deleteAccount());
      print('account deleted on the server; local data deleted', { type: 'account-deleted' });
    });

  /** `7d`, `12h`, `30m` or bare seconds: an invite's lifetime. */
  const parseLifetime = (text: string): number => {
    const match = /^(\d{1,6})([smhd]?)$/.exec(text.trim());
    const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[match?.[2] ?? ''];
    if (!match || unit === undefined)
      throw new ClientError(ClientErrorCode.InvalidInput, '--expires takes a duration like 7d, 12h or 30m');
    return Number(match[1]) * unit;
  };
  const roleWord = (role: string): string => (role === 'owner' ? 'owner' : role === 'admin' ? 'admin' : 'member');

  program
    .command('org')
    .description("show the organization: the pinned organization key's fingerprint and your role")
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        const status = await messenger.organization.status();
        const lines = [
          status.fingerprint
            ? `organization key: ${status.fingerprint}`
            : 'organization key: none (this server has no organization yet)',
          `your role: ${roleWord(status.role)}${status.keyHolder ? ' (this device holds the organization key)' : ''}`,
        ];
        if (status.keyChanged)
          lines.unshift(
            `! WARNING: the server now presents a DIFFERENT organization key (${status.presentedFingerprint ?? ''}); roles under it are not believed`,
          );
        print(lines.join('\n'), { type: 'organization', ...status });
      });
    });

  program
    .command('directory')
    .description('search the organization directory: members whose username starts with QUERY (at most 20)')
    .argument('<query>', 'the beginning of a username')
    .action(async (query: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const entries = await messenger.organization.directory(query);
        if (globals().json) {
          for (const entry of entries) io.out(jsonLine({ type: 'directory-entry', ...entry }));
          return;
        }
        if (entries.length === 0) io.out('no members match');
        for (const entry of entries) io.out(escapeText(entry.username));
      });
    });

  const admin = program.command('admin').description('administer the organization (admins; granting: the owner)');

  admin
    .command('members')
    .description('list members: username, role, joined, last active day, devices')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        const members = await messenger.organization.members();
        if (globals().json) {
          for (const m of members)
            io.out(jsonLine({ type: 'member', ...m, role: m.certifiedRole, serverRole: m.role }));
          return;
        }
        for (const m of members) {
          const flags = [
            m.disabled ? 'disabled' : null,
            m.role !== m.certifiedRole ? `server says ${m.role} without a valid certificate` : null,
          ].filter(Boolean);
          io.out(
            `${escapeText(m.username ?? m.accountId)}  ${roleWord(m.certifiedRole)}  joined ${new Date(m.joinedAt).toISOString().slice(0, 10)}  last active ${m.lastActiveDay ?? '-'}  devices ${m.devices}${flags.length ? `  (${flags.join(', ')})` : ''}`,
          );
        }
      });
    });

  const invite = admin.command('invite').description('invite codes (admins)');
  invite
    .command('create')
    .description('create an invite code and print it (on the last line)')
    .option('--uses <n>', 'how many registrations it allows (default 1)')
    .option('--expires <duration>', 'how long it is valid: 7d, 12h, 30m (default 7d)')
    .action(async (options: { uses?: string; expires?: string }) => {
      const uses = options.uses === undefined ? 1 : Number(options.uses);
      if (!Number.isInteger(uses) || uses < 1 || uses > 10_000)
        throw new ClientError(ClientErrorCode.InvalidInput, '--uses takes a whole number from 1 to 10000');
      const expiresInSeconds = parseLifetime(options.expires ?? '7d');
      await withSession(globals(), async ({ messenger }) => {
        const created = await messenger.organization.createInvite({ uses, expiresInSeconds });
        print(
          `invite for ${created.uses} registration${created.uses === 1 ? '' : 's'}, valid until ${formatTimestamp(created.expiresAt)} (id ${created.id}):\n${created.code}`,
          { type: 'invite', ...created },
        );
      });
    });
  invite
    .command('list')
    .description('list invites (their codes are not kept: only their uses and expiry)')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        const invites = await messenger.organization.invites();
        for (const i of invites)
          print(
            `${i.id}  ${i.usesLeft}/${i.uses} uses left  expires ${formatTimestamp(i.expiresAt)}${i.revoked ? '  revoked' : ''}`,
            { type: 'invite', ...i },
          );
      });
    });
  invite
    .command('revoke')
    .description('revoke an invite')
    .argument('<id>', 'the invite id (cove admin invite list)')
    .action(async (id: string) => {
      await withSession(globals(), async ({ messenger }) => {
        await messenger.organization.revokeInvite(id);
        print(`invite ${escapeText(id)} revoked`, { type: 'invite-revoked', id });
      });
    });

  admin
    .command('grant')
    .description("grant a role: the owner's device signs a role certificate")
    .argument('<username>', 'the member')
    .argument('<role>', 'admin or member')
    .action(async (username: string, role: string) => {
      if (role !== 'admin' && role !== 'member')
        throw new ClientError(ClientErrorCode.InvalidInput, 'the role is admin or member');
      await withSession(globals(), async ({ messenger }) => {
        const granted = await messenger.organization.grant(username, role);
        print(`${escapeText(username)} is now ${role}`, { type: 'role', username, ...granted });
      });
    });

  for (const [name, disabled] of [
    ['disable', true],
    ['enable', false],
  ] as const) {
    admin
      .command(name)
      .description(
        disabled
          ? 'disable an account: its devices are removed and signed out; it cannot log in or register again'
          : 'enable a disabled account: its username may register again',
      )
      .argument('<username>', 'the account (username or account id)')
      .action(async (username: string) => {
        await withSession(globals(), async ({ messenger }) => {
          const accountId = await messenger.organization.setDisabled(username, disabled);
          print(`${escapeText(username)} ${disabled ? 'disabled' : 'enabled'}`, {
            type: disabled ? 'disabled' : 'enabled',
            username,
            accountId,
          });
        });
      });
  }

  admin
    .command('notice')
    .description('send a notice to every member (admins): end-to-end encrypted, shown in their Notices conversation')
    .argument('<text>', 'the notice')
    .action(async (text: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const { message, recipients } = await messenger.sendNotice(text);
        await messenger.flushOutbox();
        const final = (await messenger.message(message.id)) ?? message;
        if (final.status === 'failed')
          throw new ClientError(
            final.error === 'admin_required' ? ClientErrorCode.NotAdmin : ClientErrorCode.ServerError,
            `the notice could not be sent (${final.error ?? 'error'})`,
          );
        print(`notice sent to ${recipients} member${recipients === 1 ? '' : 's'}`, {
          type: 'notice-sent',
          ...messageJson(final, null),
          notice: true,
          recipients,
        });
      });
    });

  admin
    .command('audit')
    .description('show the audit log; --verify checks its hash chain (exit 6 when broken)')
    .option('--verify', 'verify the chain (and that the head verified before is still there)')
    .action(async (options: { verify?: boolean }) => {
      await withSession(globals(), async ({ messenger }) => {
        const result = await messenger.organization.audit();
        if (!options.verify || globals().json)
          for (const e of result.entries)
            print(
              `${e.seq}  ${formatTimestamp(e.at)}  ${escapeText(e.event)}  actor ${escapeText(e.actor ?? '-')}  target ${escapeText(e.target ?? '-')}`,
              { type: 'audit', ...e },
            );
        if (options.verify) {
          print(
            result.intact
              ? `audit log verified: ${result.entries.length} entries, chain intact`
              : `! audit log BROKEN at entry ${result.brokenAt ?? '?'}: it was edited, reordered or cut`,
            { type: 'audit-verify', intact: result.intact, brokenAt: result.brokenAt, entries: result.entries.length },
          );
          if (!result.intact) exitCode = ExitCode.Refused;
        }
      });
    });

  program
    .command('send')
    .description('send a text message, a file or a voice note and wait until the server has accepted it')
    .argument('[username]', 'recipient username (or account id); with --group, the text')
    .argument('[text]', 'message text (with --file or --voice: not allowed, use --caption)')
    .option('--file <path>', 'send this file (encrypted on this device)')
    .option('--voice <path>', 'send this audio file as a voice note')
    .option('--caption <text>', 'caption of the file or voice note')
    .option('--group <id>', 'send to this group (cove group list shows the ids): the text, --file or --voice')
    .action(async (usernameArg: string | undefined, text: string | undefined, options: SendOptions) => {
      if (options.group !== undefined) {
        const groupText = usernameArg;
        const groupFile = options.file ?? options.voice;
        if (text !== undefined || (groupText === undefined) === (groupFile === undefined))
          throw new ClientError(
            ClientErrorCode.InvalidInput,
            'with --group give only the text (cove send --group ID TEXT) or a file (--file PATH or --voice PATH, with --caption)',
          );
        if (options.file !== undefined && options.voice !== undefined)
          throw new ClientError(ClientErrorCode.InvalidInput, 'give --file or --voice, not both');
        if (groupFile === undefined && options.caption !== undefined)
          throw new ClientError(ClientErrorCode.InvalidInput, '--caption goes with --file or --voice');
        const groupContentType = groupFile === undefined ? '' : contentTypeOf(groupFile);
        if (options.voice !== undefined && !groupContentType.startsWith('audio/'))
          throw new ClientError(ClientErrorCode.InvalidInput, 'a voice note must be an audio file');
        if (groupFile !== undefined && !(await fs.stat(groupFile).catch(() => null))?.isFile())
          throw new ClientError(ClientErrorCode.InvalidInput, `cannot read the file ${groupFile}`);
        await withSession(globals(), async ({ messenger }) => {
          const queued =
            groupFile === undefined
              ? await messenger.sendGroupText(options.group ?? '', groupText ?? '')
              : await messenger.sendGroupAttachment(options.group ?? '', {
                  source: createReadStream(groupFile) as AsyncIterable<Uint8Array>,
                  size: (await fs.stat(groupFile)).size,
                  contentType: groupContentType,
                  fileName: path.basename(groupFile),
                  ...(options.caption !== undefined ? { caption: options.caption } : {}),
                  ...(options.voice !== undefined ? { voiceNote: true } : {}),
                });
          await messenger.flushOutbox();
          const message = (await messenger.message(queued.id)) ?? queued;
          const groupId = groupOf(message.conversationId);
          if (message.status === 'failed')
            throw new ClientError(
              ClientErrorCode.ServerError,
              `the message could not be sent (${message.error ?? 'error'})`,
            );
          if (message.status === 'sending') {
            print('queued for the group: the server is unreachable; it will be sent on the next run', {
              type: 'queued',
              ...messageJson(message, null),
              groupId,
            });
            exitCode = ExitCode.Unreachable;
            return;
          }
          print(`sent to the group ${groupId ?? ''}`, { type: 'sent', ...messageJson(message, null), groupId });
        });
        return;
      }
      if (usernameArg === undefined) throw new ClientError(ClientErrorCode.InvalidInput, 'give the recipient');
      const username = usernameArg;
      const file = options.file ?? options.voice;
      if (options.file !== undefined && options.voice !== undefined)
        throw new ClientError(ClientErrorCode.InvalidInput, 'give --file or --voice, not both');
      if (file === undefined && text === undefined)
        throw new ClientError(ClientErrorCode.InvalidInput, 'give the message text, --file PATH or --voice PATH');
      if (file !== undefined && text !== undefined)
        throw new ClientError(ClientErrorCode.InvalidInput, 'with --file or --voice, give the text as --caption');
      if (file === undefined && options.caption !== undefined)
        throw new ClientError(ClientErrorCode.InvalidInput, '--caption goes with --file or --voice');
      const contentType = file === undefined ? '' : contentTypeOf(file);
      if (options.voice !== undefined && !contentType.startsWith('audio/'))
        throw new ClientError(
          ClientErrorCode.InvalidInput,
          'a voice note must be an audio file (.ogg, .opus, .mp3, .m4a, .aac, .wav, .flac, .weba)',
        );
      if (file !== undefined) {
        const stat = await fs.stat(file).catch(() => null);
        if (!stat?.isFile()) throw new ClientError(ClientErrorCode.InvalidInput, `cannot read the file ${file}`);
      }
      await withSession(globals(), async ({ messenger }) => {
        // People at a terminal see the upload advance (one line per piece); scripts get only the result.
        const unsubscribe =
          file !== undefined && io.interactive && !globals().json
            ? messenger.subscribe((event) => {
                if (event.type === 'attachment-progress' && event.direction === 'upload')
                  io.err(
                    `uploading: ${(event.sent / 1048576).toFixed(1)} of ${(event.total / 1048576).toFixed(1)} MiB`,
                  );
              })
            : () => false;
        const queued =
          file === undefined
            ? await messenger.sendText(username, text ?? '')
            : await messenger.sendAttachment(username, {
                source: createReadStream(file) as AsyncIterable<Uint8Array>,
                // Known in advance: the upload runs while the file is encrypted (a file changing meanwhile is refused).
                size: (await fs.stat(file)).size,
                contentType,
                fileName: path.basename(file),
                ...(options.caption !== undefined ? { caption: options.caption } : {}),
                ...(options.voice !== undefined ? { voiceNote: true } : {}),
              });
        await messenger.flushOutbox();
        unsubscribe();
        const message = (await messenger.message(queued.id)) ?? queued;
        if (message.status === 'failed') {
          if (message.error === ClientErrorCode.QueueFull) {
            throw new ClientError(
              ClientErrorCode.QueueFull,
              `not sent: ${username} has too many undelivered messages waiting on the server (a device of theirs has been offline for long); try again later`,
            );
          }
          if (
            message.error === ClientErrorCode.AttachmentTooLarge ||
            message.error === ClientErrorCode.AttachmentQuota ||
            message.error === ClientErrorCode.AttachmentUnavailable
          )
            throw new ClientError(message.error, `the attachment could not be sent (${message.error})`);
          const code =
            message.error === ClientErrorCode.IdentityChanged
              ? ClientErrorCode.IdentityChanged
              : message.error === ClientErrorCode.UnknownUser
                ? ClientErrorCode.UnknownUser
                : ClientErrorCode.ServerError;
          throw new ClientError(
            code,
            code === ClientErrorCode.IdentityChanged
              ? `${username}'s safety number changed: compare it ("cove safety-number ${username}") and run "cove verify ${username}" before sending`
              : `the message could not be sent (${message.error ?? 'error'})`,
          );
        }
        if (message.status === 'sending') {
          print(`queued for ${username}: the server is unreachable; it will be sent on the next run`, {
            type: 'queued',
            ...messageJson(message, username),
          });
          exitCode = ExitCode.Unreachable;
          return;
        }
        print(`sent to ${username}`, { type: 'sent', ...messageJson(message, username) });
      });
    });

  program
    .command('listen')
    .description('receive messages and print them as they arrive, until interrupted')
    .option('--mark-read', 'send read receipts for the messages shown')
    .option('--exit-when-idle', 'stop once every queued message has been received')
    .option('--save-to <dir>', 'save received attachments here (default: DIR/attachments of the data directory)')
    .action(async (options: { markRead?: boolean; exitWhenIdle?: boolean; saveTo?: string }) => {
      if (shared)
        throw new ClientError(ClientErrorCode.InvalidInput, 'a listener is already running on this data directory');
      await withSession(globals(), async (session) => {
        const { messenger } = session;
        const usernames = new Map<string, string | null>();
        const nameOf = async (accountId: string): Promise<string> => {
          if (!usernames.has(accountId)) {
            const conversation = await messenger
              .conversations()
              .then((list) => list.find((c) => c.peerAccountId === accountId));
            usernames.set(accountId, conversation?.peerUsername ?? null);
          }
          return usernames.get(accountId) ?? accountId;
        };
        /** A group member as people know them (nickname, profile name, username); the account id when unknown. */
        const memberName = async (groupId: string, accountId: string): Promise<string> =>
          (await messenger.groupMemberNames(groupId))[accountId] ?? (await nameOf(accountId));
        const shownMessages = new Set<string>();
        const saveDir = path.resolve(options.saveTo ?? path.join(dataDirOf(globals()), 'attachments'));
        /** Downloads, verifies and saves each attachment of an incoming message (decrypted, under a safe name). */
        const saveAll = async (message: MessageEntry): Promise<SavedAttachment[]> => {
          const saved: SavedAttachment[] = [];
          for (const [index, attachment] of (message.attachments ?? []).entries()) {
            const common = {
              contentType: attachment.contentType,
              voiceNote: attachment.voiceNote,
              caption: attachment.caption,
            };
            try {
              // One pass: downloaded, checked and decrypted into a hidden partial file, named only once all of it
              // verified (a failure removes it).
              const file = await saveAttachmentFile(
                saveDir,
                attachment.fileName,
                attachment.contentType,
                messenger.downloadAndDecryptAttachment(message.id, index),
              );
              // Recorded with the message: `history` shows it, and deleting the message removes this copy.
              await messenger.recordSavedCopy(message.id, index, file);
              saved.push({ ...file, ...common });
            } catch (error) {
              if (!(error instanceof ClientError)) throw error;
              saved.push({ error: error.code, fileName: attachment.fileName, ...common });
            }
          }
          return saved;
        };
        const show = async (event: MessengerEvent): Promise<void> => {
          if (
            (event.type === 'message-added' || event.type === 'message-updated') &&
            event.message.direction === 'incoming'
          ) {
            const message = event.message;
            if (message.status === 'undecryptable' && event.type === 'message-updated') return;
            // An attachment's download state changing is not a new message.
            if (message.status === 'received' && shownMessages.has(message.id)) return;
            if (message.status === 'received') shownMessages.add(message.id);
            if (message.notice) {
              const sender = message.notice.senderUsername ?? message.authorAccountId;
              print(
                `[${formatTimestamp(message.timestamp)}] NOTICE from ${escapeText(sender)}: ${escapeText(message.text)}`,
                {
                  type: 'message',
                  ...messageJson(message, sender),
                  notice: true,
                  sender,
                  senderRole: message.notice.role,
                },
              );
              if (options.markRead) await messenger.markRead(message.conversationId);
              return;
            }
            const groupId = groupOf(message.conversationId);
            const name =
              groupId === null
                ? await nameOf(message.authorAccountId)
                : await memberName(groupId, message.authorAccountId);
            if (message.system && groupId !== null) {
              print(
                `[${formatTimestamp(message.timestamp)}] group ${groupId.slice(0, 12)}: ${escapeText(message.text)}`,
                {
                  type: 'group-update',
                  ...messageJson(message, name),
                },
              );
              return;
            }
            if (message.status === 'undecryptable') {
              print(
                messageLine(message, name, {
                  at: message.storedAt,
                  body: '(a message could not be decrypted; asking to resend)',
                }),
                { type: 'undecryptable', ...messageJson(message, name) },
              );
              return;
            }
            const saved = await saveAll(message);
            const lines = [
              messageLine(message, name),
              ...saved.map((a) =>
                'error' in a
                  ? `  ! attachment ${escapeText(a.fileName ?? '')} failed verification: not saved`
                  : `  attachment ${escapeText(path.basename(a.path))} (${a.size} bytes${a.voiceNote ? ', voice note' : ''}) saved to ${escapeText(a.path)}`,
              ),
            ];
            print(lines.join('\n'), {
              type: 'message',
              ...messageJson(message, name),
              ...(saved.length > 0 ? { attachments: saved } : {}),
            });
            if (options.markRead) await messenger.markRead(message.conversationId);
          } else if (event.type === 'identity-changed') {
            const name = escapeText(event.username ?? event.accountId);
            print(`! the safety number with ${name} changed: compare it and run "cove verify ${name}"`, {
              type: 'identity-changed',
              accountId: event.accountId,
              username: event.username,
              wasVerified: event.wasVerified,
            });
          } else if (event.type === 'own-device-added') {
            print(
              `! a new device (${event.deviceId}) was added to your account; if it was not you, remove it ` +
                `("cove devices remove ${event.deviceId}") and change your password`,
              { type: 'own-device-added', deviceId: event.deviceId },
            );
          } else if (event.type === 'message-rejected') {
            const name = escapeText(await nameOf(event.accountId));
            print(`! a message from ${name} was dropped: its content broke the rules (${escapeText(event.reason)})`, {
              type: 'message-rejected',
              accountId: event.accountId,
              deviceId: event.deviceId,
              reason: event.reason,
            });
          } else if (event.type === 'session-reset' && globals().json) {
            // People already see the placeholder line ("could not be decrypted; asking to resend").
            io.out(jsonLine({ type: 'session-reset', accountId: event.accountId, deviceId: event.deviceId }));
          } else if (event.type === 'session-reset-limited') {
            const name = escapeText(await nameOf(event.accountId));
            print(
              `! too many messages from ${name} (device ${event.deviceId}) could not be decrypted: ignoring them until ${formatTimestamp(event.until)}`,
              {
                type: 'session-reset-limited',
                accountId: event.accountId,
                deviceId: event.deviceId,
                until: event.until,
              },
            );
          } else if (event.type === 'reaction' || event.type === 'message-edited' || event.type === 'message-deleted') {
            const groupId = groupOf(event.conversationId);
            const name = groupId === null ? await nameOf(event.accountId) : await memberName(groupId, event.accountId);
            const { message } = event;
            const common = {
              conversation: groupId === null ? event.accountId : event.conversationId,
              conversationId: event.conversationId,
              peer: name,
              author: event.accountId,
              messageId: message.id,
              targetAuthor: message.authorAccountId,
              targetTimestamp: message.timestamp,
              ...(groupId === null ? {} : { groupId }),
            };
            const who = escapeText(name);
            if (event.type === 'reaction') {
              const target =
                message.authorAccountId === event.accountId
                  ? 'their'
                  : message.direction === 'outgoing'
                    ? 'your'
                    : `${escapeText(await memberName(groupId ?? '', message.authorAccountId))}'s`;
              print(
                event.remove
                  ? `${who} removed their reaction to ${target} message ${escapeText(message.id)}`
                  : `${who} reacted ${escapeText(event.emoji)} to ${target} message ${escapeText(message.id)}`,
                { type: 'reaction', ...common, emoji: event.emoji, remove: event.remove },
              );
            } else if (event.type === 'message-edited') {
              print(`${who} edited message ${escapeText(message.id)}: ${escapeText(message.text)}`, {
                type: 'edit',
                ...common,
                text: message.text,
                editedAt: message.editedAt,
              });
            } else {
              print(`${who} deleted message ${escapeText(message.id)}`, {
                type: 'delete',
                ...common,
                deletedAt: message.deletedAt,
              });
            }
          } else if (event.type === 'receipt' && globals().json) {
            io.out(
              jsonLine({
                type: 'receipt',
                conversation: event.accountId,
                conversationId: event.conversationId,
                receipt: event.receiptType,
                timestamps: event.timestamps,
              }),
            );
          } else if (event.type === 'group-update-rejected') {
            const name = escapeText(await nameOf(event.accountId));
            print(`! a group change from ${name} was ignored (${escapeText(event.reason)})`, {
              type: 'group-update-rejected',
              groupId: event.groupId,
              accountId: event.accountId,
              reason: event.reason,
            });
          } else if (event.type === 'group-message-undecryptable') {
            const name = escapeText(await nameOf(event.accountId));
            print(`! a group message from ${name} could not be decrypted; asking to resend`, {
              type: 'group-undecryptable',
              accountId: event.accountId,
              deviceId: event.deviceId,
              timestamp: event.timestamp,
            });
          } else if (event.type === 'connection' && globals().json) {
            io.out(jsonLine({ type: 'connection', state: event.state }));
          }
        };
        // One event at a time, in order; an event that cannot be shown is reported and never stops the listener.
        let chain = Promise.resolve();
        const onEvent = (event: MessengerEvent): void => {
          chain = chain
            .then(() => show(event))
            .catch((error: unknown) => {
              const name = error instanceof Error ? error.name : 'error';
              try {
                io.err(
                  globals().json
                    ? jsonLine({ type: 'error', error: 'display_failed', event: event.type })
                    : `cove: could not show a ${event.type} event (${name})`,
                );
              } catch {
                // Nothing left to report to.
              }
            });
        };
        messenger.subscribe(onEvent);
        const idle = messenger.waitForQueueEmpty();
        // Timers are unref'd so that one-shot commands exit promptly; a listener keeps the process alive itself.
        const keepAlive = options.exitWhenIdle ? null : setInterval(() => undefined, 60_000);
        try {
          await messenger.connect({ failFast: options.exitWhenIdle ?? false });
        } catch (error) {
          if (keepAlive) clearInterval(keepAlive);
          throw error;
        }
        // Other cove commands on this data directory run inside this process while it listens.
        const stopServing = await serveCommands(
          dataDirOf(globals()),
          (args, output) =>
            // Forwarded commands have no terminal to ask questions on.
            main(
              ['node', 'cove', ...args],
              { ...output, stopSignal: () => new Promise(() => undefined), interactive: false },
              session,
            ),
          session.platform.logger,
        ).catch((error: unknown) => {
          session.platform.logger.warn('cannot serve other commands', {
            error: error instanceof Error ? error.message : 'unknown',
          });
          return (): Promise<void> => Promise.resolve();
        });
        if (!globals().json)
          io.err(`listening as ${escapeText((await messenger.account()).username ?? '')} (Ctrl-C to stop)`);
        if (options.exitWhenIdle) {
          await idle;
          // Also deliver what waited in the outbox (receipts, messages queued while the server was down).
          await messenger.flushOutbox();
        } else {
          await io.stopSignal();
        }
        if (keepAlive) clearInterval(keepAlive);
        await stopServing();
        await messenger.disconnect();
        await chain;
      });
    });

  program
    .command('safety-number')
    .description("show the safety number to compare with a contact's")
    .argument('<username>', 'contact username (or account id)')
    .action(async (username: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const identity = await messenger.identity(username);
        if (!identity.safetyNumber)
          throw new ClientError(ClientErrorCode.UnknownUser, `no identity key known for ${username}`);
        print(
          `${formatSafetyNumber(identity.safetyNumber.digits)}\n${identity.trust}${identity.blocked ? ' (changed: sending blocked until verified)' : ''}`,
          {
            type: 'safety-number',
            username,
            accountId: identity.accountId,
            safetyNumber: identity.safetyNumber.digits,
            trust: identity.trust,
            blocked: identity.blocked,
          },
        );
      });
    });

  program
    .command('verify')
    .description(
      "mark a contact's identity key verified after comparing safety numbers: with --safety-number, the number your " +
        'contact reads out is checked; without it, the current number is shown and you confirm it (--yes in scripts)',
    )
    .argument('<username>', 'contact username (or account id)')
    .option('--safety-number <digits>', 'the number the contact read out (checked before marking verified)')
    .option('--yes', 'verify the number shown without asking (it is checked again as it is marked)')
    .action(async (username: string, options: { safetyNumber?: string; yes?: boolean }) => {
      await withSession(globals(), async ({ messenger }) => {
        let digits = options.safetyNumber;
        if (digits === undefined) {
          const shown = await messenger.identity(username);
          if (!shown.safetyNumber)
            throw new ClientError(ClientErrorCode.UnknownUser, `no identity key known for ${username}`);
          digits = shown.safetyNumber.digits;
          if (!options.yes) {
            if (!io.interactive || !io.ask)
              throw new ClientError(
                ClientErrorCode.InvalidInput,
                'pass --safety-number DIGITS (the number your contact reads out), or --yes to verify the number shown',
              );
            io.out(formatSafetyNumber(digits));
            const answer = await io.ask(`Is this the number ${username} sees? [y/N] `);
            if (!/^\s*y(es)?\s*$/i.test(answer))
              throw new ClientError(ClientErrorCode.IdentityChanged, `${username} was not marked verified`);
          } else if (!globals().json) {
            io.out(formatSafetyNumber(digits));
          }
        }
        // The digits are checked against the key held at the moment it is marked: a change meanwhile refuses.
        const identity = await messenger.verify(username, digits);
        print(`${username} is verified`, {
          type: 'verified',
          username,
          accountId: identity.accountId,
          trust: identity.trust,
          safetyNumber: digits.replace(/\s+/g, ''),
        });
      });
    });

  program
    .command('link')
    .description(
      'link this data directory as a new device of an existing account: prints a link URI (and a QR code) for the ' +
        'existing device ("cove devices add URI" or the app\'s "Link a new device"), then waits until it is linked',
    )
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:3000')
    .option('--device-name <name>', "this device's name in the device list (encrypted: the server cannot read it)")
    .option(
      '--sso',
      'servers with REGISTRATION=sso: first sign in again with the identity provider (as "register --sso" does)',
    )
    .action(async (options: { server: string; deviceName?: string; sso?: boolean }) => {
      await withSession(
        globals(),
        async ({ messenger }) => {
          const ssoToken = options.sso ? (await ssoDeviceGrant(messenger, options.server)).ssoToken : undefined;
          const account = await messenger.linkNewDevice({
            serverUrl: options.server,
            ...(ssoToken === undefined ? {} : { ssoToken }),
            ...(options.deviceName === undefined ? {} : { deviceName: options.deviceName }),
            onHistoryProgress: historyProgress,
            onLinkUri: (uri) => {
              // The URI alone on its line (stdout), so scripts and people can copy it; the QR code for cameras.
              if (globals().json) io.out(jsonLine({ type: 'link-uri', uri }));
              else io.out(uri);
              if (io.interactive && !globals().json) io.err(terminalQr(uri));
            },
          });
          print(
            `linked as device ${account.deviceId} of ${account.username ?? '(no username)'} (${account.accountId})`,
            { type: 'linked', ...account },
          );
        },
        false,
      );
    });

  const devices = program.command('devices').description("list, add, sync and remove this account's devices");
  devices
    .command('add')
    .alias('link')
    .description('link the new device showing this URI to this account (primary device only)')
    .argument('<uri>', 'the link URI the new device shows (cove://link?...)')
    .option('--yes', 'do not ask for confirmation')
    .option(
      '--history',
      `also send recent history, encrypted (the last ${HISTORY_DEFAULT_DAYS} days, ${HISTORY_DEFAULT_MESSAGES} messages per conversation)`,
    )
    .option('--history-days <n>', 'with --history: only messages from the last N days')
    .option('--history-messages <n>', 'with --history: at most N messages per conversation (at most 500)')
    .action(
      async (
        uri: string,
        options: { yes?: boolean; history?: boolean; historyDays?: string; historyMessages?: string },
      ) => {
        await withSession(globals(), async ({ messenger }) => {
          if (!options.yes && io.interactive && io.ask) {
            const answer = await io.ask(
              'The new device will get this account, its keys and contacts, and see every message. Link it? [y/N] ',
            );
            if (!/^\s*y(es)?\s*$/i.test(answer))
              throw new ClientError(ClientErrorCode.InvalidInput, 'the device was not linked');
          }
          const count = (value: string | undefined, flag: string, max: number): number | undefined => {
            if (value === undefined) return undefined;
            const n = Number(value);
            if (!/^\d{1,6}$/.test(value) || n < 1 || n > max)
              throw new ClientError(ClientErrorCode.InvalidInput, `${flag} must be a whole number from 1 to ${max}`);
            return n;
          };
          const days = count(options.historyDays, '--history-days', 36500);
          const perConversation = count(options.historyMessages, '--history-messages', 500);
          await messenger.addDevice(uri, {
            ...(options.history
              ? {
                  history: {
                    ...(days === undefined ? {} : { days }),
                    ...(perConversation === undefined ? {} : { messagesPerConversation: perConversation }),
                  },
                  onHistoryProgress: historyProgress,
                }
              : {}),
          });
          print('sent this account to the new device', { type: 'device-added', history: options.history === true });
        });
      },
    );
  devices
    .command('list')
    .description("this account's devices: id, name, created and last-active day")
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        for (const d of await messenger.devices()) {
          const day = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
          print(
            `${d.deviceId}\t${escapeText(d.name ?? '(unnamed)')}\tcreated ${day(d.createdAt)}\tlast active ${day(d.lastSeenAt)}${d.current ? '\t(this device)' : ''}`,
            { type: 'device', ...d },
          );
        }
      });
    });
  devices
    .command('sync')
    .description(
      "send this device's contacts, conversation settings, groups and profile key to the account's other devices",
    )
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        await messenger.syncDevices();
        await messenger.flushOutbox();
        const queued = (await messenger.outboxSize()) > 0;
        print(queued ? 'sync queued (the server is unreachable; sent on the next run)' : 'sent a full sync', {
          type: 'devices-synced',
          queued,
        });
      });
    });
  devices
    .command('remove')
    .description('remove a linked device from this account (primary device only)')
    .argument('<id>', 'device id (cove devices list)')
    .action(async (id: string) => {
      if (!/^\d{1,3}$/.test(id)) throw new ClientError(ClientErrorCode.InvalidInput, 'give a device id (a number)');
      await withSession(globals(), async ({ messenger }) => {
        await messenger.removeDevice(Number(id));
        print(`removed device ${id}`, { type: 'device-removed', deviceId: Number(id) });
      });
    });

  const group = program.command('group').description('create and manage group chats');
  const printGroup = (verb: string, g: unknown): void =>
    print(`${verb} ${groupLine(g)}`, { type: 'group', ...groupJson(g) });
  group
    .command('create')
    .description('create a group with these members (you are its admin); prints its id')
    .argument('<name>', 'the group name')
    .argument('<usernames...>', 'members (usernames or account ids)')
    .action(async (name: string, usernames: string[]) => {
      await withSession(globals(), async ({ messenger }) => {
        const created = await messenger.createGroup(name, usernames);
        await messenger.flushOutbox();
        io.out(globals().json ? jsonLine({ groupId: created.id }) : created.id);
      });
    });
  group
    .command('add')
    .description('add members to a group (admins)')
    .argument('<id>', 'group id')
    .argument('<usernames...>', 'members to add')
    .action(async (id: string, usernames: string[]) => {
      await withSession(globals(), async ({ messenger }) => {
        const changed = await messenger.addMembers(id, usernames);
        await messenger.flushOutbox();
        printGroup('updated', changed);
      });
    });
  group
    .command('remove')
    .description('remove members from a group (admins)')
    .argument('<id>', 'group id')
    .argument('<usernames...>', 'members to remove')
    .action(async (id: string, usernames: string[]) => {
      await withSession(globals(), async ({ messenger }) => {
        const changed = await messenger.removeMembers(id, usernames);
        await messenger.flushOutbox();
        printGroup('updated', changed);
      });
    });
  group
    .command('leave')
    .description('leave a group')
    .argument('<id>', 'group id')
    .action(async (id: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const changed = await messenger.leaveGroup(id);
        await messenger.flushOutbox();
        printGroup('left', changed);
      });
    });
  group
    .command('list')
    .description('list groups, most recently changed first')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        for (const g of await messenger.listGroups()) print(groupLine(g), { type: 'group', ...groupJson(g) });
      });
    });

  const profile = program.command('profile').description("your encrypted profile, and your contacts' profiles");
  profile
    .command('set')
    .description(
      'set your profile (encrypted with your profile key; contacts get the key inside your messages): ' +
        'fields not given stay as they are, an empty value clears one',
    )
    .option('--name <name>', 'display name, at most 26 characters')
    .option('--about <text>', 'about line, at most 140 characters')
    .option('--emoji <emoji>', 'one emoji shown with the about line')
    .option('--avatar <path>', 'a JPEG, PNG or WebP image of at most 128 KiB (JPEG metadata is removed)')
    .option('--remove-avatar', 'remove your avatar')
    .action(
      async (options: { name?: string; about?: string; emoji?: string; avatar?: string; removeAvatar?: boolean }) => {
        const avatar = options.avatar === undefined ? undefined : await readAvatarFile(options.avatar);
        await withSession(globals(), async ({ messenger }) => {
          const updated = await messenger.setProfile({
            ...(options.name === undefined ? {} : { name: options.name }),
            ...(options.about === undefined ? {} : { about: options.about }),
            ...(options.emoji === undefined ? {} : { aboutEmoji: options.emoji }),
            ...(avatar ? { avatar } : options.removeAvatar ? { avatar: null } : {}),
          });
          print(profileText(updated.name, updated.aboutEmoji, updated.about, updated.avatar), {
            type: 'profile',
            name: updated.name,
            about: updated.about,
            aboutEmoji: updated.aboutEmoji,
            avatarBytes: updated.avatar?.length ?? 0,
          });
        });
      },
    );
  profile
    .command('get')
    .description("show your profile, or a contact's (fetched with the profile key they sent you)")
    .argument('[username]', 'contact username (or account id); none: yours')
    .option('--refresh', 'fetch it again now (otherwise at most hourly)')
    .action(async (username: string | undefined, options: { refresh?: boolean }) => {
      await withSession(globals(), async ({ messenger }) => {
        if (username === undefined) {
          const own = await messenger.profile();
          print(profileText(own.name, own.aboutEmoji, own.about, own.avatar), {
            type: 'profile',
            name: own.name,
            about: own.about,
            aboutEmoji: own.aboutEmoji,
            avatarBytes: own.avatar?.length ?? 0,
          });
          return;
        }
        const c = await messenger.contact(username, { refresh: options.refresh ?? false });
        const header = `${escapeText(c.displayName)}${c.username ? ` (@${escapeText(c.username)})` : ''}`;
        const body = c.hasProfileKey
          ? profileText(c.profileName ?? '', c.aboutEmoji ?? '', c.about ?? '', c.avatar)
          : 'no profile key from them yet (it comes with their first message)';
        print(`${header}\n${body}`, {
          type: 'contact',
          accountId: c.accountId,
          username: c.username,
          nickname: c.nickname,
          displayName: c.displayName,
          name: c.profileName,
          about: c.about,
          aboutEmoji: c.aboutEmoji,
          avatarBytes: c.avatar?.length ?? 0,
          hasProfileKey: c.hasProfileKey,
        });
      });
    });
  profile
    .command('nickname')
    .description('name a contact on this device only (shown before their profile name); no name removes it')
    .argument('<username>', 'contact username (or account id)')
    .argument('[nickname]', 'the nickname, at most 26 characters')
    .action(async (username: string, nickname: string | undefined) => {
      await withSession(globals(), async ({ messenger }) => {
        await messenger.setNickname(username, nickname ?? null);
        const c = await messenger.contact(username);
        print(`${escapeText(c.displayName)}`, { type: 'contact', accountId: c.accountId, displayName: c.displayName });
      });
    });

  const settings = program.command('settings').description("this account's settings, shared by all its devices");
  settings
    .command('sealed')
    .description(
      'who may send you sealed messages (the server does not learn the sender): "contacts" (default: those you gave ' +
        'your profile key; anyone else is refused and sends identified, into your message requests) or "anyone"; ' +
        'no value shows the setting',
    )
    .addArgument(new Argument('[who]', 'anyone or contacts').choices(['anyone', 'contacts']))
    .action(async (who: 'anyone' | 'contacts' | undefined) => {
      await withSession(globals(), async ({ messenger }) => {
        if (who !== undefined) await messenger.setSealedSenderSetting(who);
        const setting = await messenger.sealedSenderSetting({ refresh: true });
        const text =
          setting === 'anyone' ? 'sealed messages: from anyone' : 'sealed messages: from contacts only (default)';
        print(text, { type: 'settings', sealedSender: setting });
      });
    });

  program
    .command('conversations')
    .description('list conversations, most recent first')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        for (const c of await messenger.conversations()) print(conversationLine(c), { type: 'conversation', ...c });
      });
    });

  program
    .command('requests')
    .description('list message requests: conversations started by people who are not your contacts')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        for (const c of await messenger.requests())
          print(`${conversationLine(c)} (request)`, { type: 'request', ...c });
      });
    });

  program
    .command('accept')
    .description('accept a message request (a username, or a group id for a group invitation)')
    .argument('<username>', 'who wrote to you (username or account id), or a group id')
    .action(async (username: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const target = /^[0-9a-f]{64}$/i.test(username) ? `group:${username.toLowerCase()}` : username;
        const conversation = await messenger.accept(target);
        await messenger.flushOutbox();
        print(`accepted ${conversationLine(conversation)}`, { type: 'accepted', conversationId: conversation.id });
      });
    });

  program
    .command('block')
    .description('block someone: their messages are dropped unseen and you cannot write to them until you unblock')
    .argument('<username>', 'username or account id')
    .action(async (username: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const accountId = await messenger.resolve(username);
        const changed = await messenger.block(accountId);
        // The account's other devices are told (a sync); it leaves now, or on the next run when offline.
        await messenger.flushOutbox();
        print(changed ? `blocked ${username}` : `${username} was already blocked`, {
          type: 'blocked',
          username,
          accountId,
          changed,
        });
      });
    });

  program
    .command('unblock')
    .description('take someone off your block list')
    .argument('<username>', 'username or account id')
    .action(async (username: string) => {
      await withSession(globals(), async ({ messenger }) => {
        const accountId = await messenger.resolve(username);
        const changed = await messenger.unblock(accountId);
        // The account's other devices are told (a sync); it leaves now, or on the next run when offline.
        await messenger.flushOutbox();
        print(changed ? `unblocked ${username}` : `${username} was not blocked`, {
          type: 'unblocked',
          username,
          accountId,
          changed,
        });
      });
    });

  program
    .command('blocked')
    .description('list blocked people, most recently blocked first')
    .action(async () => {
      await withSession(globals(), async ({ messenger }) => {
        for (const b of await messenger.blocked())
          print(`${escapeText(b.username ?? b.accountId)} (blocked ${formatTimestamp(b.blockedAt)})`, {
            type: 'blocked-peer',
            ...b,
          });
      });
    });

  program
    .command('search')
    .description('search conversations and messages on this device (words, word starts, Chinese and Japanese text)')
    .argument('<query...>', 'what to look for')
    .option('--limit <n>', 'how many results', '20')
    .action(async (query: string[], options: { limit: string }) => {
      await withSession(globals(), async ({ messenger }) => {
        const limit = Number.parseInt(options.limit, 10);
        if (!Number.isInteger(limit) || limit < 1)
          throw new ClientError(ClientErrorCode.InvalidInput, '--limit must be a positive integer');
        for (const r of await messenger.search(query.join(' '), { limit })) {
          const where = escapeText(r.title ?? r.conversationId);
          if (r.kind === 'conversation') print(`${where}`, { type: 'search-result', ...r });
          else
            print(
              `${formatTimestamp(r.at)} ${where}: ${escapeText(r.snippet.map((p) => (p.match ? `[${p.text}]` : p.text)).join(''))}`,
              { type: 'search-result', ...r, text: r.snippet.map((p) => p.text).join('') },
            );
        }
      });
    });

  program
    .command('history')
    .description('show the latest messages with a contact (or `notices`: the organization notices), oldest first')
    .argument('<username>', 'contact username (or account id)')
    .option('--limit <n>', 'how many messages', '20')
    .action(async (username: string, options: { limit: string }) => {
      await withSession(globals(), async ({ messenger }) => {
        const limit = Number.parseInt(options.limit, 10);
        if (!Number.isInteger(limit) || limit < 1)
          throw new ClientError(ClientErrorCode.InvalidInput, '--limit must be a positive integer');
        const page = await messenger.messages(username, { limit });
        for (const m of [...page.messages].reverse()) {
          const attachments = m.attachments ?? [];
          // `history notices`: each notice with its sender and the role its certificate proved (as `listen` shows).
          const sender = m.notice ? (m.notice.senderUsername ?? m.authorAccountId) : null;
          const who = m.direction === 'outgoing' ? 'me' : sender !== null ? `NOTICE from ${sender}` : username;
          print([messageLine(m, who), ...attachments.map(attachmentLine)].join('\n'), {
            type: 'message',
            ...messageJson(m, username),
            ...(attachments.length > 0 ? { attachments: attachments.map(attachmentJson) } : {}),
            ...(m.notice ? { notice: true, sender, senderRole: m.notice.role } : {}),
          });
        }
      });
    });

  /** The message MESSAGE_ID (the `id` that `history --json` and `listen --json` print) of the chat with USERNAME. */
  const messageOf = async (messenger: Messenger, username: string, messageId: string): Promise<MessageEntry> => {
    const accountId = await messenger.resolve(username);
    const message = await messenger.message(messageId);
    if (!message || message.conversationId !== directConversationId(accountId))
      throw new ClientError(ClientErrorCode.InvalidInput, `no message ${messageId} in the chat with ${username}`);
    return message;
  };
  /** Waits until the action left (or is queued), then prints the changed message. */
  const reportAction = async (
    messenger: Messenger,
    username: string | null,
    message: MessageEntry,
    type: string,
    line: string,
  ): Promise<void> => {
    await messenger.flushOutbox();
    const pending = (await messenger.outboxSize()) > 0;
    const current = (await messenger.message(message.id)) ?? message;
    print(pending ? `${line} (queued: the server is unreachable; sent on the next run)` : line, {
      type,
      queued: pending,
      ...messageJson(current, username),
    });
    if (pending) exitCode = ExitCode.Unreachable;
  };

  /**
   * The message and the chat of an action's arguments: `USERNAME MESSAGE_ID REST` in a direct chat, or with `--group
   * ID` just `MESSAGE_ID REST` (the message checked to be in that group). Returns the message, the peer's name for
   * the output (null in a group) and the remaining argument.
   */
  const actionArgs = async (
    messenger: Messenger,
    args: { first: string; second: string; third: string | undefined; group: string | undefined },
    what: string,
  ): Promise<{ message: MessageEntry; peer: string | null; rest: string }> => {
    if (args.group !== undefined) {
      if (args.third !== undefined)
        throw new ClientError(ClientErrorCode.InvalidInput, `with --group give only the message id and the ${what}`);
      const group = await messenger.group(args.group);
      const message = await messenger.message(args.first);
      if (!group || !message || message.conversationId !== `group:${group.id}`)
        throw new ClientError(ClientErrorCode.InvalidInput, `no message ${args.first} in the group ${args.group}`);
      return { message, peer: null, rest: args.second };
    }
    if (args.third === undefined)
      throw new ClientError(ClientErrorCode.InvalidInput, `give the contact, the message id and the ${what}`);
    return { message: await messageOf(messenger, args.first, args.second), peer: args.first, rest: args.third };
  };

  program
    .command('react')
    .description(
      'react to a message with one emoji (replacing your earlier reaction), or remove your reaction; in a group: ' +
        'cove react --group ID MESSAGE_ID EMOJI (every member sees it)',
    )
    .usage('[options] <username> <message-id> <emoji>  |  --group <id> <message-id> <emoji>')
    .argument('<username>', 'contact username (or account id); with --group, the message id')
    .argument('<message-id>', 'the message id, as "history --json" prints it; with --group, the emoji')
    .argument('[emoji]', 'one emoji')
    .option('--group <id>', 'the message is in this group (cove group list shows the ids)')
    .option('--remove', 'take your reaction away')
    .action(
      async (
        first: string,
        second: string,
        third: string | undefined,
        options: { remove?: boolean; group?: string },
      ) => {
        await withSession(globals(), async ({ messenger }) => {
          const {
            message,
            peer,
            rest: emoji,
          } = await actionArgs(messenger, { first, second, third, group: options.group }, 'emoji');
          const updated = options.remove
            ? await messenger.removeReaction(message.id, emoji)
            : await messenger.sendReaction(message.id, emoji);
          await reportAction(
            messenger,
            peer,
            updated,
            'reacted',
            options.remove ? `removed your reaction` : `reacted ${escapeText(emoji)}`,
          );
        });
      },
    );

  program
    .command('delete')
    .description(
      "delete a message on this device (not on the contact's), with its attachments: the encrypted local copies " +
        'and the files listen saved for it (when they are still those files); a message not sent yet is not sent. ' +
        'With --for-everyone, one of yours (sent within 24 hours) becomes a "deleted" placeholder everywhere (in a ' +
        'group: cove delete --for-everyone --group ID MESSAGE_ID; the message id alone names its group too)',
    )
    .usage('[options] [username] <message-id>')
    .argument('<first>', 'the message id (the "id" of history --json), or the contact username (or account id)')
    .argument('[message-id]', 'the message id, when a username comes first (checked to be in that chat)')
    .option(
      '--for-everyone',
      "also delete it on the contact's devices, or every group member's (your own messages, within 24 hours)",
    )
    .option('--group <id>', 'the message is in this group (checked); then give only the message id')
    .action(async (first: string, second: string | undefined, options: { forEveryone?: boolean; group?: string }) => {
      const username = second === undefined ? undefined : first;
      const messageId = second ?? first;
      await withSession(globals(), async ({ messenger }) => {
        if (options.group !== undefined) {
          const group = await messenger.group(options.group);
          const inGroup = await messenger.message(first);
          if (second !== undefined || !group || inGroup?.conversationId !== `group:${group.id}`)
            throw new ClientError(ClientErrorCode.InvalidInput, `no message ${first} in the group ${options.group}`);
        }
        const message =
          username === undefined ? await messenger.message(messageId) : await messageOf(messenger, username, messageId);
        if (!message) throw new ClientError(ClientErrorCode.InvalidInput, 'no such message');
        if (options.forEveryone) {
          const updated = await messenger.deleteForEveryone(messageId);
          const peer =
            username ??
            (await messenger.conversations()).find((c) => c.id === message.conversationId)?.peerUsername ??
            null;
          await reportAction(messenger, peer, updated, 'deleted', 'deleted for everyone');
          return;
        }
        const removed: string[] = [];
        for (const attachment of message.attachments ?? []) {
          const copy = attachment.savedCopy;
          if (copy && (await removeSavedCopy(copy))) removed.push(copy.path);
        }
        await messenger.deleteMessage(messageId);
        print([`deleted ${escapeText(messageId)}`, ...removed.map((p) => `  removed ${escapeText(p)}`)].join('\n'), {
          type: 'deleted',
          id: messageId,
          removed,
        });
      });
    });

  program
    .command('edit')
    .description(
      'give one of your messages (sent within 24 hours) a new text; in a group: cove edit --group ID MESSAGE_ID TEXT',
    )
    .usage('[options] <username> <message-id> <text>  |  --group <id> <message-id> <text>')
    .argument('<username>', 'contact username (or account id); with --group, the message id')
    .argument('<message-id>', 'the message id, as "history --json" prints it; with --group, the new text')
    .argument('[text]', 'the new text')
    .option('--group <id>', 'the message is in this group (cove group list shows the ids)')
    .action(async (first: string, second: string, third: string | undefined, options: { group?: string }) => {
      await withSession(globals(), async ({ messenger }) => {
        const {
          message,
          peer,
          rest: text,
        } = await actionArgs(messenger, { first, second, third, group: options.group }, 'new text');
        const updated = await messenger.editMessage(message.id, text);
        await reportAction(messenger, peer, updated, 'edited', 'edited');
      });
    });

  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return ExitCode.Ok;
      return ExitCode.Usage;
    }
    if (!shared && error instanceof ClientError && error.code === ClientErrorCode.StorageLocked) {
      const forwarded = await forwardCommand(dataDirOf(globals()), argv.slice(2), io);
      if (forwarded !== null) return forwarded;
    }
    const code = exitCodeFor(error);
    const message = error instanceof Error ? error.message : String(error);
    // The message may quote a server's answer: escaped like any text from others.
    if (globals().json) io.err(jsonLine({ type: 'error', error: errorCodeFor(error), message }));
    else io.err(`cove: ${escapeText(message)}`);
    if (code === ExitCode.Failure && error instanceof Error && error.stack && process.env.COVE_DEBUG)
      io.err(error.stack);
    return code;
  }
  return exitCode;
};

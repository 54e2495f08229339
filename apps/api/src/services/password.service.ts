/**
 * Username and password login with OPAQUE (docs/password-login.md). An authenticated device registers a password:
 * the server evaluates the OPRF on the blinded password and stores the registration record the client makes, with
 * the account backup the client sealed under a key from OPAQUE's export key; both are replaced on a change and
 * deleted on removal. A new device logs in by username: the start answers with the server's half of the
 * key exchange (for an unknown username, or an account without a password, an answer from a fake record that fails
 * like a wrong password), keeps the login state briefly, and the finish, when the client's MAC verifies, releases
 * the sealed backup and a single-use link token (a provisioning code for `POST /v1/devices`). The server never sees
 * the password, the export key or the backup's plaintext, and logs none of them. Failed logins are throttled per
 * username and client address (auth throttle, password scope).
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  PASSWORD_LINK_TOKEN_TTL_MS,
  type PasswordBackupRequest,
  type PasswordLoginFinishRequest,
  type PasswordLoginFinishResponse,
  type PasswordLoginStartRequest,
  type PasswordLoginStartResponse,
  type PasswordRegistrationFinishRequest,
  type PasswordRegistrationStartRequest,
  type PasswordRegistrationStartResponse,
  type PasswordStatusResponse,
} from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { Clock } from '../repositories/clock.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import { DeviceRepository } from '../repositories/device.repository.js';
import { LoggingRepository } from '../repositories/logging.repository.js';
import { OpaqueRepository } from '../repositories/opaque.repository.js';
import { PasswordLoginRepository } from '../repositories/password-login.repository.js';
import { PasswordRepository } from '../repositories/password.repository.js';
import { ApiError } from './api-error.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { AuthThrottleService } from './auth-throttle.service.js';

/** The OPAQUE user identifier of an account: its id, which a username change leaves alone. */
const identifierOf = (accountId: string): string => `account:${accountId.toLowerCase()}`;
/** The identifier a username without a password answers under (a fake record: same shape, never a success). */
const unknownIdentifierOf = (usernameKey: string): string => `username:${usernameKey}`;

const fromOpaque = (text: string): Uint8Array<ArrayBuffer> => new Uint8Array(Buffer.from(text, 'base64url'));
const toOpaque = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

const loginFailed = (): ApiError =>
  new ApiError(401, ErrorCode.Unauthorized, 'the login failed, expired or was already finished');

@Injectable()
export class PasswordService {
  constructor(
    private readonly passwords: PasswordRepository,
    private readonly logins: PasswordLoginRepository,
    private readonly opaque: OpaqueRepository,
    private readonly accounts: AccountRepository,
    private readonly devices: DeviceRepository,
    private readonly throttle: AuthThrottleService,
    private readonly crypto: CryptoRepository,
    private readonly clock: Clock,
    private readonly config: ConfigRepository,
    private readonly logger: LoggingRepository,
  ) {}

  async status(device: AuthenticatedDevice): Promise<PasswordStatusResponse> {
    const stored = await this.passwords.get(device.accountId);
    return { enabled: stored !== null, updatedAt: stored ? stored.updatedAt.getTime() : null };
  }

  registrationStart(
    device: AuthenticatedDevice,
    body: PasswordRegistrationStartRequest,
  ): PasswordRegistrationStartResponse {
    try {
      return {
        registrationResponse: this.opaque.registrationResponse(
          identifierOf(device.accountId),
          body.registrationRequest,
        ),
      };
    } catch {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'registrationRequest is not an OPAQUE registration request');
    }
  }

  async registrationFinish(device: AuthenticatedDevice, body: PasswordRegistrationFinishRequest): Promise<void> {
    const record = fromOpaque(body.registrationRecord);
    // A record that OPAQUE cannot use would lock the user out silently: a trial login start checks it now.
    if (!this.opaque.isUsableRecord(identifierOf(device.accountId), body.registrationRecord))
      throw new ApiError(400, ErrorCode.InvalidRequest, 'registrationRecord is not an OPAQUE registration record');
    const backup = new Uint8Array(Buffer.from(body.backup, 'base64'));
    await this.passwords.put(device.accountId, record, backup, new Date(this.clock.now()));
    this.logger.info('password set', { accountId: device.accountId, deviceId: device.deviceId });
  }

  async putBackup(device: AuthenticatedDevice, body: PasswordBackupRequest): Promise<void> {
    const backup = new Uint8Array(Buffer.from(body.backup, 'base64'));
    if (!(await this.passwords.putBackup(device.accountId, backup, new Date(this.clock.now()))))
      throw new ApiError(404, ErrorCode.NotFound, 'this account has no password');
  }

  async remove(device: AuthenticatedDevice): Promise<void> {
    if (await this.passwords.remove(device.accountId))
      this.logger.info('password removed', { accountId: device.accountId, deviceId: device.deviceId });
  }

  async loginStart(
    body: PasswordLoginStartRequest,
    clientAddress: string | undefined,
  ): Promise<PasswordLoginStartResponse> {
    const usernameKey = body.username.toLowerCase();
    await this.throttle.passwordLoginStarted(clientAddress, usernameKey);
    const account = await this.accounts.findByUsername(usernameKey);
    const stored = account ? await this.passwords.get(account.id) : null;
    const accountId = account && stored ? account.id : null;
    let started: { serverLoginState: string; loginResponse: string };
    try {
      started = this.opaque.startLogin(
        accountId ? identifierOf(accountId) : unknownIdentifierOf(usernameKey),
        stored && accountId ? toOpaque(stored.record) : null,
        body.startLoginRequest,
      );
    } catch {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'startLoginRequest is not an OPAQUE login request');
    }
    const loginId = this.crypto.randomBytes(16).toString('base64url');
    const ttlMs = this.config.config.password.loginTtlMs;
    await this.logins.put(loginId, { accountId, usernameKey, serverLoginState: started.serverLoginState }, ttlMs);
    return { loginId, loginResponse: started.loginResponse, expiresAt: this.clock.now() + ttlMs };
  }

  async loginFinish(body: PasswordLoginFinishRequest): Promise<PasswordLoginFinishResponse> {
    const login = await this.logins.take(body.loginId);
    if (!login) throw loginFailed();
    const verified = this.opaque.finishLogin(login.serverLoginState, body.finishLoginRequest);
    // A fake record's login can never verify; checked anyway so that no path answers an unknown username differently.
    if (!verified || login.accountId === null) throw loginFailed();
    const stored = await this.passwords.get(login.accountId);
    if (!stored) throw loginFailed();
    await this.throttle.passwordLoginSucceeded(login.usernameKey);
    const token = this.crypto.randomBytes(32);
    const expiresAt = this.clock.now() + PASSWORD_LINK_TOKEN_TTL_MS;
    await this.devices.createProvisioningCode(login.accountId, this.crypto.hash(token), new Date(expiresAt));
    this.logger.info('password login', { accountId: login.accountId });
    return {
      accountId: login.accountId,
      backup: Buffer.from(stored.backup).toString('base64'),
      linkToken: token.toString('base64url'),
      linkTokenExpiresAt: expiresAt,
    };
  }
}

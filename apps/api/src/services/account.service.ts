/**
 * Accounts: registration (open or by invitation, keys checked before anything is stored), usernames (unique without
 * regard to case), lookups (with the owner's spelling) and the sealed-sender account attributes. It never sees a
 * private key or a plaintext credential beyond hashing it.
 */
import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  type AccountAttributesRequest,
  type AccountAttributesResponse,
  type CreateAccountRequest,
  type CreateAccountResponse,
} from '@cove/protocol';

import { AccountRepository } from '../repositories/account.repository.js';
import { ConfigRepository } from '../repositories/config.repository.js';
import { CryptoRepository } from '../repositories/crypto.repository.js';
import type { Bytes } from '../repositories/database.repository.js';
import { ApiError } from './api-error.js';
import type { AuthenticatedDevice } from './auth.service.js';
import { OrganizationService } from './organization.service.js';
import { PreKeyService } from './prekey.service.js';
import { SsoService } from './sso.service.js';

@Injectable()
export class AccountService {
  /** Keyed digests of the configured invite codes, made once: every comparison is between two 32-byte values. */
  private readonly inviteCodeDigests: Uint8Array[];

  constructor(
    private readonly accounts: AccountRepository,
    private readonly preKeys: PreKeyService,
    private readonly crypto: CryptoRepository,
    private readonly config: ConfigRepository,
    private readonly organization: OrganizationService,
    private readonly sso: SsoService,
  ) {
    this.inviteCodeDigests = config.config.inviteCodes.map((code) => crypto.keyedDigest(Buffer.from(code, 'utf8')));
  }

  /**
   * Registration. Under `REGISTRATION=invite` it needs a configured code (`INVITE_CODES`) or a live invite (one use
   * is taken, and given back if the registration fails); under `open` an invite is optional; under `sso` a single
   * sign-on grant is needed (it names the username) and an invite is optional. The owner invite makes
   * the account the owner whatever the mode. A username held by a disabled account is refused (`account_disabled`).
   * Keys are checked before any invite use is taken.
   */
  async create(body: CreateAccountRequest): Promise<CreateAccountResponse> {
    const identityKey = this.preKeys.identityKey(body.identityKey);
    const keys = this.preKeys.check(identityKey, body);
    if (!keys.signedPreKey || !keys.kyberLastResortPreKey) {
      throw new ApiError(400, ErrorCode.InvalidRequest, 'signedPreKey and kyberLastResortPreKey are required');
    }
    // Under single sign-on the grant (used up here) decides the username and ties the account to its person. An invite
    // is a separate check: required under `invite`, optional (the owner invite, say) under `open` and `sso`.
    const sso = this.config.config.registration === 'sso' ? await this.sso.redeemForRegistration(body.ssoToken) : null;
    const username = sso ? sso.username : body.username;
    if (username && (await this.organization.usernameDisabled(username))) {
      throw new ApiError(403, ErrorCode.AccountDisabled, 'this account was disabled by an administrator');
    }
    const presented = body.inviteCode ?? '';
    // Every configured code is compared whatever was presented (nothing included): the time says nothing about them.
    const configured = this.isInviteCode(presented) && presented !== '';
    const invite = presented !== '' && !configured ? await this.organization.redeemInvite(presented) : null;
    if (this.config.config.registration === 'invite' && !configured && !invite) {
      throw new ApiError(403, ErrorCode.InviteRequired, 'a valid invite code is required to register');
    }
    const accountId = this.crypto.randomUUID();
    let created = false;
    try {
      created = await this.insertAccount(accountId, identityKey, body, keys, username, sso?.subject);
    } finally {
      if (!created && invite) await this.organization.returnInvite(invite.id);
    }
    if (!created) throw new ApiError(409, ErrorCode.UsernameTaken, 'username is taken');
    await this.organization.registered(accountId, invite);
    return { accountId, deviceId: 1 };
  }

  private insertAccount(
    accountId: string,
    identityKey: ReturnType<PreKeyService['identityKey']>,
    body: CreateAccountRequest,
    keys: ReturnType<PreKeyService['check']>,
    username: string | undefined,
    ssoSubject: Bytes | undefined,
  ): Promise<boolean> {
    if (!keys.signedPreKey || !keys.kyberLastResortPreKey) throw new Error('checked above');
    return this.accounts.create({
      id: accountId,
      identityKey,
      ...(username ? { username } : {}),
      ...(ssoSubject ? { ssoSubject } : {}),
      device: {
        registrationId: body.registrationId,
        credentialHash: this.crypto.hash(Buffer.from(body.secret, 'base64')),
        signedPreKey: keys.signedPreKey,
        kyberLastResortPreKey: keys.kyberLastResortPreKey,
        preKeys: keys.preKeys,
        kyberPreKeys: keys.kyberPreKeys,
        name: body.name === undefined ? undefined : new Uint8Array(Buffer.from(body.name, 'base64')),
      },
    });
  }

  /**
   * Whether `presented` is one of the invite codes, in time that depends on neither its length nor which code (if
   * any) it matches: fixed-length digests compared in constant time, every code compared, no early exit.
   */
  private isInviteCode(presented: string): boolean {
    const digest = this.crypto.keyedDigest(Buffer.from(presented, 'utf8'));
    let found = false;
    for (const code of this.inviteCodeDigests) found = this.crypto.equal(code, digest) || found;
    return found;
  }

  async setUsername(device: AuthenticatedDevice, username: string): Promise<{ username: string }> {
    if (!(await this.accounts.setUsername(device.accountId, username))) {
      throw new ApiError(409, ErrorCode.UsernameTaken, 'username is taken');
    }
    return { username };
  }

  /**
   * The caller's own sealed-sender setting (`GET /v1/accounts/attributes`): whether anyone may send the account
   * sealed messages. Every device of the account reads it here, so a change on one is seen by the others.
   */
  async attributes(device: AuthenticatedDevice): Promise<AccountAttributesResponse> {
    const access = (await this.accounts.unidentifiedAccess([device.accountId])).get(device.accountId);
    if (!access) throw new ApiError(404, ErrorCode.NotFound, 'no such account');
    return { unrestrictedUnidentifiedAccess: access.unrestricted };
  }

  /**
   * Sets the sealed-sender attributes (`PUT /v1/accounts/attributes`): the unidentified access key (null removes it:
   * then only an account open to anyone takes sealed sends) and whether anyone may send it sealed messages.
   */
  async setAttributes(device: AuthenticatedDevice, body: AccountAttributesRequest): Promise<void> {
    await this.accounts.setUnidentifiedAccess(device.accountId, {
      ...(body.unidentifiedAccessKey === undefined
        ? {}
        : {
            accessKey:
              body.unidentifiedAccessKey === null
                ? null
                : new Uint8Array(Buffer.from(body.unidentifiedAccessKey, 'base64')),
          }),
      ...(body.unrestrictedUnidentifiedAccess === undefined
        ? {}
        : { unrestricted: body.unrestrictedUnidentifiedAccess }),
    });
  }

  async deleteUsername(device: AuthenticatedDevice): Promise<void> {
    await this.accounts.clearUsername(device.accountId);
  }

  /** The account holding `username` in any case, with the spelling its owner chose (the one clients display). */
  async lookup(username: string): Promise<{ accountId: string; username: string }> {
    const found = await this.accounts.findByUsername(username);
    if (!found) throw new ApiError(404, ErrorCode.NotFound, 'no account has this username');
    return { accountId: found.id, username: found.username };
  }
}

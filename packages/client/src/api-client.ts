/**
 * Typed calls to the Cove server's HTTP API (`/v1/...`, contract in @cove/protocol), over the platform's HTTP
 * transport: JSON bodies, Basic credentials, responses validated with the shared zod schemas. Network failures
 * become ClientError(server_unreachable); error answers become ServerResponseError with the server's stable code,
 * except the ones callers act on (409/410 of a send), which are returned as values, and the ones with a typed error
 * (401, 429, and `507 queue_full`: {@link QueueFullError}). No retries, no state.
 */
import {
  CreateAccountResponse,
  DeviceListResponse,
  EnvelopeListResponse,
  LinkDeviceResponse,
  ProvisioningCodeResponse,
  AccountAttributesResponse,
  ErrorResponse,
  InfoResponse,
  KeyStatusResponse,
  MismatchedDevicesResponse,
  MultiRecipientMismatchedDevicesResponse,
  MultiRecipientNotFoundResponse,
  MultiRecipientStaleDevicesResponse,
  PasswordLoginFinishResponse,
  PasswordLoginStartResponse,
  PasswordRegistrationStartResponse,
  PasswordStatusResponse,
  PreKeyBundleResponse,
  AuditListResponse,
  CreateInviteResponse,
  InviteListResponse,
  MemberListResponse,
  RetentionResponse,
  ServerStatusResponse,
  DirectoryResponse,
  RoleCertificateListResponse,
  RoleCertificateResponse,
  ProfileResponse,
  QueueFullResponse,
  SenderCertificateResponse,
  SendMessagesResponse,
  SendMultiResponse,
  SsoDeviceStartResponse,
  SsoGrantResponse,
  StaleDevicesResponse,
  UsernameLookupResponse,
  toBase64,
} from '@cove/protocol';
import type {
  AccountAttributesRequest,
  AccountAttributesResponse as AccountAttributesBody,
  CreateAccountRequest,
  Envelope,
  SendMessagesRequest,
  SendMultiRequest,
  SendSealedMultiRequest,
  SenderCertificateResponse as SenderCertificateBody,
  SetProfileRequest,
  UploadKeysRequest,
  KeyStatusResponse as KeyStatus,
  PreKeyBundleResponse as PreKeyBundle,
  InfoResponse as Info,
  DeviceListResponse as DeviceList,
  LinkDeviceRequest,
  PasswordBackupRequest,
  PasswordLoginFinishRequest,
  PasswordLoginStartRequest,
  PasswordRegistrationFinishRequest,
  PasswordRegistrationStartRequest,
} from '@cove/protocol';

import {
  ClientError,
  ClientErrorCode,
  QueueFullError,
  ServerResponseError,
  UnidentifiedAccessDeniedError,
} from './errors.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './platform.js';

/** The part of a zod schema this client uses (keeps zod a dependency of @cove/protocol only). */
type Schema<T> = { safeParse(value: unknown): { success: true; data: T } | { success: false } };

export type Credentials = { accountId: string; deviceId: number; secret: Uint8Array };

/** The outcome of a send, whichever way (HTTP or socket) it went. */
export type SendOutcome =
  | { kind: 'accepted'; serverTimestamp: number }
  | { kind: 'mismatched'; missingDevices: number[]; extraDevices: number[] }
  | { kind: 'stale'; staleDevices: number[] }
  | { kind: 'not-found' };

const utf8 = new TextEncoder();

/** The outcome of a multi-recipient send: accepted, or the corrections of every failing recipient at once. */
export type MultiSendOutcome =
  | { kind: 'accepted'; serverTimestamp: number; queueFull: { accountId: string; fullDevices: number[] }[] }
  | {
      kind: 'mismatched';
      accounts: { accountId: string; missingDevices: number[]; extraDevices: number[]; staleDevices: number[] }[];
    }
  | { kind: 'stale'; accounts: { accountId: string; staleDevices: number[] }[] }
  | { kind: 'not-found'; accounts: string[] };

/** Interprets a multi-recipient send's status and body (HTTP response or socket result frame alike). */
export const multiSendOutcome = (status: number, body: unknown): MultiSendOutcome => {
  if (status === 200) {
    const accepted = SendMultiResponse.parse(body);
    return { kind: 'accepted', serverTimestamp: accepted.serverTimestamp, queueFull: accepted.queueFull ?? [] };
  }
  if (status === 409) {
    const parsed = MultiRecipientMismatchedDevicesResponse.safeParse(body);
    if (parsed.success) return { kind: 'mismatched', accounts: parsed.data.accounts };
  }
  if (status === 410) {
    const parsed = MultiRecipientStaleDevicesResponse.safeParse(body);
    if (parsed.success) return { kind: 'stale', accounts: parsed.data.accounts };
  }
  if (status === 404) {
    const parsed = MultiRecipientNotFoundResponse.safeParse(body);
    if (parsed.success) return { kind: 'not-found', accounts: parsed.data.accounts.map((a) => a.accountId) };
  }
  throw responseError(status, body);
};

export const basicAuth = (credentials: Credentials): string =>
  `Basic ${toBase64(utf8.encode(`${credentials.accountId}.${credentials.deviceId}:${toBase64(credentials.secret)}`))}`;

/** Interprets a send's status and body (HTTP response or socket result frame alike). */
export const sendOutcome = (status: number, body: unknown): SendOutcome => {
  if (status === 200) return { kind: 'accepted', serverTimestamp: SendMessagesResponse.parse(body).serverTimestamp };
  if (status === 409) {
    const parsed = MismatchedDevicesResponse.safeParse(body);
    if (parsed.success) return { kind: 'mismatched', ...parsed.data };
  }
  if (status === 410) {
    const parsed = StaleDevicesResponse.safeParse(body);
    if (parsed.success) return { kind: 'stale', staleDevices: parsed.data.staleDevices };
  }
  if (status === 404) return { kind: 'not-found' };
  throw responseError(status, body);
};

const responseError = (status: number, body: unknown): Error => {
  const parsed = ErrorResponse.safeParse(body);
  const code = parsed.success ? parsed.data.error : 'unknown';
  const message = parsed.success ? parsed.data.message : `HTTP ${status}`;
  if (status === 401 && code === 'unidentified_access_denied')
    return new UnidentifiedAccessDeniedError('the recipient refused this unidentified access key');
  if (status === 401)
    return new ClientError(ClientErrorCode.Unauthorized, "the server rejected this device's credentials");
  if (status === 429) {
    const after = (body as { retryAfter?: unknown } | undefined)?.retryAfter;
    return new ClientError(
      ClientErrorCode.RateLimited,
      typeof after === 'number'
        ? `the server is rate-limiting this device; try again in ${after} s`
        : 'the server is rate-limiting this device; try again later',
    );
  }
  if (status === 507) {
    const full = QueueFullResponse.safeParse(body);
    if (full.success) return new QueueFullError(full.data.accountId, full.data.fullDevices);
  }
  return new ServerResponseError(status, code, `server answered ${status} ${code}: ${message}`, body);
};

export class ApiClient {
  private readonly base: string;

  constructor(
    serverUrl: string,
    private readonly http: HttpTransport,
    private credentials: Credentials | null = null,
  ) {
    this.base = serverUrl.replace(/\/+$/, '');
  }

  get serverUrl(): string {
    return this.base;
  }

  setCredentials(credentials: Credentials): void {
    this.credentials = credentials;
  }

  /** The provisioning channel's WebSocket URL of this server. */
  get provisioningUrl(): string {
    return `${this.base.replace(/^http/, 'ws')}/v1/provisioning`;
  }

  /** The WebSocket URL of this server. */
  get webSocketUrl(): string {
    return `${this.base.replace(/^http/, 'ws')}/v1/websocket`;
  }

  /** `auth`: send the device's credentials; a string instead: send none, and this unidentified access key (base64). */
  private async call(
    method: HttpRequest['method'],
    path: string,
    body?: unknown,
    auth: boolean | { unidentifiedAccessKey: string } = true,
  ): Promise<{ status: number; body: unknown }> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (typeof auth === 'object') headers['unidentified-access-key'] = auth.unidentifiedAccessKey;
    else if (auth) {
      if (!this.credentials) throw new ClientError(ClientErrorCode.NotRegistered, 'no account: register first');
      headers.authorization = basicAuth(this.credentials);
    }
    let response: HttpResponse;
    try {
      response = await this.http.request({
        method,
        url: `${this.base}${path}`,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new ClientError(ClientErrorCode.ServerUnreachable, `cannot reach the server at ${this.base}`, {
        cause: error,
      });
    }
    let parsed: unknown = undefined;
    if (response.body !== '') {
      try {
        parsed = JSON.parse(response.body);
      } catch {
        if (response.status < 400)
          throw new ClientError(
            ClientErrorCode.ServerError,
            `the server at ${this.base} sent a non-JSON answer (is it a Cove server?)`,
          );
      }
    }
    return { status: response.status, body: parsed };
  }

  private async expect<T>(
    schema: Schema<T>,
    method: HttpRequest['method'],
    path: string,
    body?: unknown,
    auth: boolean = true,
  ): Promise<T> {
    const response = await this.call(method, path, body, auth);
    if (response.status < 200 || response.status >= 300) throw responseError(response.status, response.body);
    const parsed = schema.safeParse(response.body);
    if (!parsed.success)
      throw new ClientError(
        ClientErrorCode.ServerError,
        `unexpected answer from ${method} ${path.split('/').slice(0, 3).join('/')}`,
      );
    return parsed.data;
  }

  private async expectEmpty(method: HttpRequest['method'], path: string, body?: unknown): Promise<void> {
    const response = await this.call(method, path, body);
    if (response.status < 200 || response.status >= 300) throw responseError(response.status, response.body);
  }

  info(): Promise<Info> {
    return this.expect(InfoResponse, 'GET', '/v1/info', undefined, false);
  }

  createAccount(request: CreateAccountRequest): Promise<{ accountId: string; deviceId: number }> {
    return this.expect(CreateAccountResponse, 'POST', '/v1/accounts', request, false);
  }

  async setUsername(username: string): Promise<void> {
    await this.expectEmpty('PUT', '/v1/accounts/username', { username });
  }

  /** The account id for a username, or null when nobody has it. */
  async lookupUsername(username: string): Promise<string | null> {
    return (await this.findUsername(username))?.accountId ?? null;
  }

  /** The account holding `username` (any case) and the username as its owner spells it; null when none does. */
  async findUsername(username: string): Promise<{ accountId: string; username: string } | null> {
    const response = await this.call('GET', `/v1/accounts/username/${encodeURIComponent(username)}`);
    if (response.status === 404) return null;
    if (response.status !== 200) throw responseError(response.status, response.body);
    const found = UsernameLookupResponse.parse(response.body);
    // A server from before canonical spellings answers without one: the asked spelling stands in.
    return { accountId: found.accountId, username: found.username ?? username };
  }

  async setProfile(request: SetProfileRequest): Promise<void> {
    await this.expectEmpty('PUT', '/v1/profile', request);
  }

  /** An account's encrypted profile under `version`, or null when there is none of that version (404). */
  async getProfile(accountId: string, version: string): Promise<ProfileResponse | null> {
    const response = await this.call('GET', `/v1/profile/${encodeURIComponent(accountId)}/${version}`);
    if (response.status === 404) return null;
    if (response.status !== 200) throw responseError(response.status, response.body);
    return ProfileResponse.parse(response.body);
  }

  async uploadKeys(request: UploadKeysRequest): Promise<void> {
    await this.expectEmpty('PUT', '/v1/keys', request);
  }

  keyStatus(): Promise<KeyStatus> {
    return this.expect(KeyStatusResponse, 'GET', '/v1/keys/status');
  }

  /** Bundles for one device or all (`'*'`); null when the account (or device) does not exist. */
  async preKeyBundle(accountId: string, deviceId: number | '*'): Promise<PreKeyBundle | null> {
    const response = await this.call('GET', `/v1/keys/${accountId}/${deviceId}`);
    if (response.status === 404) return null;
    if (response.status !== 200) throw responseError(response.status, response.body);
    return PreKeyBundleResponse.parse(response.body);
  }

  async sendMessages(destination: string, request: SendMessagesRequest): Promise<SendOutcome> {
    const response = await this.call('PUT', `/v1/messages/${destination}`, request);
    return sendOutcome(response.status, response.body);
  }

  /** One ciphertext for many recipients' devices, in one request. */
  async sendMulti(request: SendMultiRequest): Promise<MultiSendOutcome> {
    const response = await this.call('PUT', '/v1/messages/multi', request);
    return multiSendOutcome(response.status, response.body);
  }

  /**
   * A sealed-sender send without credentials, authorized by the recipient's access key (base64); throws
   * {@link UnidentifiedAccessDeniedError} when the key is refused.
   */
  async sendSealed(destination: string, request: SendMessagesRequest, accessKey: string): Promise<SendOutcome> {
    const response = await this.call('PUT', `/v1/messages/${destination}`, request, {
      unidentifiedAccessKey: accessKey,
    });
    return sendOutcome(response.status, response.body);
  }

  /** A sealed v2 multi-recipient send without credentials, authorized by the XOR of the recipients' access keys. */
  async sendSealedMulti(request: SendSealedMultiRequest, accessKey: string): Promise<MultiSendOutcome> {
    const response = await this.call('PUT', '/v1/messages/multi', request, { unidentifiedAccessKey: accessKey });
    return multiSendOutcome(response.status, response.body);
  }

  /** A short-lived sender certificate of this device (sealed sender). */
  senderCertificate(): Promise<SenderCertificateBody> {
    return this.expect(SenderCertificateResponse, 'GET', '/v1/certificate/delivery');
  }

  /** This account's sealed-sender setting as the server holds it (every device of the account reads the same). */
  accountAttributes(): Promise<AccountAttributesBody> {
    return this.expect(AccountAttributesResponse, 'GET', '/v1/accounts/attributes');
  }

  /** Sets this account's unidentified access key and whether anyone may send it sealed messages. */
  async setAccountAttributes(request: AccountAttributesRequest): Promise<void> {
    await this.expectEmpty('PUT', '/v1/accounts/attributes', request);
  }

  async fetchEnvelopes(): Promise<{ envelopes: Envelope[]; more: boolean }> {
    return this.expect(EnvelopeListResponse, 'GET', '/v1/messages');
  }

  /** Deletes this account and everything the server holds for it (`DELETE /v1/accounts/me`, primary only). */
  deleteAccount(): Promise<void> {
    return this.expectEmpty('DELETE', '/v1/accounts/me');
  }

  /** Forgets this device's push subscription (`DELETE /v1/push/subscription`). */
  deletePushSubscription(): Promise<void> {
    return this.expectEmpty('DELETE', '/v1/push/subscription');
  }

  async acknowledge(guid: string): Promise<void> {
    const response = await this.call('DELETE', `/v1/messages/${guid}`);
    if (response.status === 404) return;
    if (response.status < 200 || response.status >= 300) throw responseError(response.status, response.body);
  }

  /** Primary device only: a single-use code a new device links with. */
  async provisioningCode(): Promise<string> {
    return (await this.expect(ProvisioningCodeResponse, 'POST', '/v1/devices/provisioning-code')).code;
  }

  /** Single sign-on: starts a device authorization grant (the user code and where to enter it). */
  ssoDeviceStart(): Promise<SsoDeviceStartResponse> {
    return this.expect(SsoDeviceStartResponse, 'POST', '/v1/sso/device', undefined, false);
  }

  /** One poll of a device authorization grant: the grant once the person approved (`428 sso_pending` before). */
  ssoDevicePoll(handle: string): Promise<SsoGrantResponse> {
    return this.expect(SsoGrantResponse, 'POST', '/v1/sso/device/token', { handle }, false);
  }

  /** Registers this (new) device on an account with a provisioning code. */
  linkDevice(request: LinkDeviceRequest): Promise<{ accountId: string; deviceId: number }> {
    return this.expect(LinkDeviceResponse, 'POST', '/v1/devices', request, false);
  }

  /** Relays one sealed provisioning message to the channel at `address`. */
  async sendProvisioningMessage(address: string, body: Uint8Array): Promise<void> {
    await this.expectEmpty('PUT', `/v1/provisioning/${address}`, { body: toBase64(body) });
  }

  /** Whether this account has a password (OPAQUE record and backup on the server). */
  passwordStatus(): Promise<PasswordStatusResponse> {
    return this.expect(PasswordStatusResponse, 'GET', '/v1/accounts/password');
  }

  passwordRegistrationStart(request: PasswordRegistrationStartRequest): Promise<PasswordRegistrationStartResponse> {
    return this.expect(PasswordRegistrationStartResponse, 'POST', '/v1/accounts/password/registration/start', request);
  }

  async passwordRegistrationFinish(request: PasswordRegistrationFinishRequest): Promise<void> {
    await this.expectEmpty('POST', '/v1/accounts/password/registration/finish', request);
  }

  /** Replaces the sealed backup; false when the account has no password (any more). */
  async putPasswordBackup(request: PasswordBackupRequest): Promise<boolean> {
    const response = await this.call('PUT', '/v1/accounts/password/backup', request);
    if (response.status === 404) return false;
    if (response.status < 200 || response.status >= 300) throw responseError(response.status, response.body);
    return true;
  }

  async removePassword(): Promise<void> {
    await this.expectEmpty('DELETE', '/v1/accounts/password');
  }

  /** Unauthenticated: OPAQUE login's first message for `username`. */
  passwordLoginStart(request: PasswordLoginStartRequest): Promise<PasswordLoginStartResponse> {
    return this.expect(PasswordLoginStartResponse, 'POST', '/v1/accounts/password/login/start', request, false);
  }

  /** Unauthenticated: OPAQUE login's last message; the sealed backup and a link token when the login verified. */
  passwordLoginFinish(request: PasswordLoginFinishRequest): Promise<PasswordLoginFinishResponse> {
    return this.expect(PasswordLoginFinishResponse, 'POST', '/v1/accounts/password/login/finish', request, false);
  }

  devices(): Promise<DeviceList> {
    return this.expect(DeviceListResponse, 'GET', '/v1/devices');
  }

  // ---- organization (docs/organizations.md) ----

  setOrganizationKey(publicKey: Uint8Array): Promise<void> {
    return this.expectEmpty('PUT', '/v1/org/key', { publicKey: toBase64(publicKey) });
  }

  putRoleCertificate(certificate: Uint8Array, signature: Uint8Array): Promise<void> {
    return this.expectEmpty('PUT', '/v1/org/certificates', {
      certificate: toBase64(certificate),
      signature: toBase64(signature),
    });
  }

  /** An account's stored role certificate, or null when it has none. */
  async roleCertificate(accountId: string): Promise<{ certificate: string; signature: string } | null> {
    const response = await this.call('GET', `/v1/org/certificates/${encodeURIComponent(accountId)}`);
    if (response.status === 404) return null;
    if (response.status !== 200) throw responseError(response.status, response.body);
    return RoleCertificateResponse.parse(response.body);
  }

  roleCertificates(): Promise<{ certificates: { accountId: string; certificate: string; signature: string }[] }> {
    return this.expect(RoleCertificateListResponse, 'GET', '/v1/org/certificates');
  }

  createInvite(uses: number, expiresInSeconds: number) {
    return this.expect(CreateInviteResponse, 'POST', '/v1/org/invites', { uses, expiresInSeconds });
  }

  invites() {
    return this.expect(InviteListResponse, 'GET', '/v1/org/invites');
  }

  revokeInvite(id: string): Promise<void> {
    return this.expectEmpty('DELETE', `/v1/org/invites/${encodeURIComponent(id)}`);
  }

  members() {
    return this.expect(MemberListResponse, 'GET', '/v1/org/members');
  }

  /** `GET /v1/org/directory?q=`: enabled members whose username starts with `prefix` (404 when the directory is off). */
  directory(prefix: string) {
    return this.expect(DirectoryResponse, 'GET', `/v1/org/directory?q=${encodeURIComponent(prefix)}`);
  }

  setDisabled(accountId: string, disabled: boolean): Promise<void> {
    return this.expectEmpty(
      'POST',
      `/v1/org/members/${encodeURIComponent(accountId)}/${disabled ? 'disable' : 'enable'}`,
    );
  }

  auditLog(after: number) {
    return this.expect(AuditListResponse, 'GET', `/v1/org/audit?after=${after}`);
  }

  /** Removes one device of a member (admins; `DELETE /v1/org/members/{accountId}/devices/{deviceId}`). */
  removeMemberDevice(accountId: string, deviceId: number): Promise<void> {
    return this.expectEmpty('DELETE', `/v1/org/members/${encodeURIComponent(accountId)}/devices/${deviceId}`);
  }

  retention() {
    return this.expect(RetentionResponse, 'GET', '/v1/org/retention');
  }

  /** Sets the retention overrides in seconds (null: the server's environment value). */
  setRetention(envelopeTtlSeconds: number | null, attachmentTtlSeconds: number | null) {
    return this.expect(RetentionResponse, 'PUT', '/v1/org/retention', { envelopeTtlSeconds, attachmentTtlSeconds });
  }

  serverStatus() {
    return this.expect(ServerStatusResponse, 'GET', '/v1/org/status');
  }

  /** Removes a device of this account (`DELETE /v1/devices/{id}`): another one (primary only), or this one (logging out). */
  async removeDevice(deviceId: number): Promise<void> {
    await this.expectEmpty('DELETE', `/v1/devices/${deviceId}`);
  }
}

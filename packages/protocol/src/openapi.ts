/**
 * Builds the OpenAPI 3.1 document of the HTTP API from the same zod schemas the server validates with, so the
 * published contract cannot drift from the code. The route table below is the list of endpoints; the server serves
 * the result at `/v1/openapi.json`. It does not describe the WebSocket (see `frames.ts` and docs/api.md).
 */
import { z } from 'zod';

import * as http from './http.js';
import * as password from './password.js';
import { ProvisioningSendRequest } from './provisioning.js';
import { PushSubscriptionRequest } from './push.js';

type Schema = z.ZodType;

/** What a client may rely on in the document itself (`GET /v1/openapi.json`); the rest is OpenAPI 3.1. */
const OpenApiDocumentResponse = z.looseObject({
  openapi: z.literal('3.1.0'),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

type Route = {
  method: 'get' | 'put' | 'post' | 'delete' | 'head' | 'patch';
  path: string;
  summary: string;
  auth: boolean;
  /** Also accepts a send without credentials authorized by `Unidentified-Access-Key` (sealed sender). */
  unidentified?: boolean;
  body?: Schema;
  /** Success status and its body (`null` for no body). */
  ok: [number, Schema | null];
  /** Refusals this route documents beyond 400/401/413/429/500. */
  errors?: Array<[number, string, Schema?]>;
};

const orgRoutes: Route[] = [
  {
    method: 'put',
    path: '/v1/org/key',
    summary: "Publish the organization key's public half (the owner, once)",
    auth: true,
    body: http.SetOrganizationKeyRequest,
    ok: [204, null],
    errors: [
      [403, 'admin_required: only the owner publishes the organization key'],
      [409, 'organization_key_exists'],
    ],
  },
  {
    method: 'put',
    path: '/v1/org/certificates',
    summary: 'Store a role certificate signed by the organization key (the owner)',
    auth: true,
    body: http.RoleCertificateRequest,
    ok: [204, null],
    errors: [
      [403, 'admin_required: only the owner stores certificates'],
      [400, 'invalid_signature: not signed by the organization key, or expired'],
      [404, 'not_found: no such account, or no organization key yet'],
    ],
  },
  {
    method: 'get',
    path: '/v1/org/certificates',
    summary: 'Every stored role certificate (clients verify them under the pinned organization key)',
    auth: true,
    ok: [200, http.RoleCertificateListResponse],
  },
  {
    method: 'get',
    path: '/v1/org/certificates/{accountId}',
    summary: "One account's role certificate",
    auth: true,
    ok: [200, http.RoleCertificateResponse],
    errors: [[404, 'not_found: the account has no certificate']],
  },
  {
    method: 'post',
    path: '/v1/org/invites',
    summary: 'Create an invite code with a number of uses and an expiry (admins)',
    auth: true,
    body: http.CreateInviteRequest,
    ok: [201, http.CreateInviteResponse],
    errors: [[403, 'admin_required']],
  },
  {
    method: 'get',
    path: '/v1/org/invites',
    summary: 'List invites (admins; codes are stored hashed and never shown again)',
    auth: true,
    ok: [200, http.InviteListResponse],
    errors: [[403, 'admin_required']],
  },
  {
    method: 'delete',
    path: '/v1/org/invites/{inviteId}',
    summary: 'Revoke an invite (admins)',
    auth: true,
    ok: [204, null],
    errors: [
      [403, 'admin_required'],
      [404, 'not_found'],
    ],
  },
  {
    method: 'get',
    path: '/v1/org/members',
    summary: 'Members with their enforced role, join time, last active day and device count (admins)',
    auth: true,
    ok: [200, http.MemberListResponse],
    errors: [[403, 'admin_required']],
  },
  {
    method: 'post',
    path: '/v1/org/members/{accountId}/disable',
    summary: 'Disable an account: its devices are removed, sockets closed, it cannot register or log in (admins)',
    auth: true,
    ok: [204, null],
    errors: [
      [403, 'admin_required (also: the owner cannot be disabled, nor an admin by an admin)'],
      [404, 'not_found'],
    ],
  },
  {
    method: 'post',
    path: '/v1/org/members/{accountId}/enable',
    summary: 'Enable a disabled account again: its username may register anew (admins)',
    auth: true,
    ok: [204, null],
    errors: [
      [403, 'admin_required'],
      [404, 'not_found'],
    ],
  },
  {
    method: 'delete',
    path: '/v1/org/members/{accountId}/devices/{deviceId}',
    summary: 'Remove one device of a member (a lost laptop): its keys and queue go, its socket is closed (admins)',
    auth: true,
    ok: [204, null],
    errors: [
      [403, "admin_required (also: the primary device, the owner's devices by an admin, an admin's by an admin)"],
      [404, 'not_found'],
    ],
  },
  {
    method: 'get',
    path: '/v1/org/retention',
    summary: 'Envelope and attachment retention: the applied value, the environment default and the override (admins)',
    auth: true,
    ok: [200, http.RetentionResponse],
    errors: [[403, 'admin_required']],
  },
  {
    method: 'put',
    path: '/v1/org/retention',
    summary: 'Set or clear (null) the retention overrides, within an hour and a year (admins; audited)',
    auth: true,
    body: http.RetentionRequest,
    ok: [200, http.RetentionResponse],
    errors: [
      [400, 'invalid_request'],
      [403, 'admin_required'],
    ],
  },
  {
    method: 'get',
    path: '/v1/org/status',
    summary: 'Server status: connections, job queues, pending envelopes, account and device counts (admins)',
    auth: true,
    ok: [200, http.ServerStatusResponse],
    errors: [[403, 'admin_required']],
  },
  {
    method: 'get',
    path: '/v1/org/directory',
    summary: 'Enabled members whose username starts with `q` (any member; `ORG_DIRECTORY`), at most 20',
    auth: true,
    ok: [200, http.DirectoryResponse],
    errors: [[404, 'directory_disabled: the directory is off on this server']],
  },
  {
    method: 'get',
    path: '/v1/org/audit',
    summary: 'The hash-chained audit log, oldest first from `after` (admins)',
    auth: true,
    ok: [200, http.AuditListResponse],
    errors: [[403, 'admin_required']],
  },
];

const routes: Route[] = [
  {
    method: 'get',
    path: '/v1/info',
    summary: 'Server name, registration policy, limits, VAPID key, sealed-sender trust root',
    auth: false,
    ok: [200, http.InfoResponse],
  },
  {
    method: 'get',
    path: '/v1/openapi.json',
    summary: 'This document: the OpenAPI 3.1 description of the HTTP API',
    auth: false,
    ok: [200, OpenApiDocumentResponse],
  },
  {
    method: 'post',
    path: '/v1/accounts',
    summary: 'Create an account and its primary device (device 1)',
    auth: false,
    body: http.CreateAccountRequest,
    ok: [201, http.CreateAccountResponse],
    errors: [
      [403, 'invite_required: registration is by invitation and the code is missing or unknown'],
      [403, 'sso_required: registration is by single sign-on and the ssoToken is missing, unknown or used'],
      [409, 'username_taken; sso_account_exists: this person already has an account'],
    ],
  },
  {
    method: 'put',
    path: '/v1/accounts/username',
    summary: "Set or change the caller's username",
    auth: true,
    body: http.SetUsernameRequest,
    ok: [200, http.UsernameResponse],
    errors: [[409, 'username_taken']],
  },
  {
    method: 'delete',
    path: '/v1/accounts/username',
    summary: "Remove the caller's username",
    auth: true,
    ok: [204, null],
  },
  {
    method: 'delete',
    path: '/v1/accounts/me',
    summary:
      "Delete the caller's account (primary device only): devices, keys, queued envelopes, attachments, push subscriptions and username; live connections close with 4006",
    auth: true,
    ok: [204, null],
    errors: [[403, 'forbidden: not the primary device']],
  },
  {
    method: 'get',
    path: '/v1/accounts/username/{username}',
    summary: 'Look up an account by username (case-insensitive)',
    auth: true,
    ok: [200, http.UsernameLookupResponse],
    errors: [[404, 'not_found']],
  },
  {
    method: 'put',
    path: '/v1/profile',
    summary: "Store the caller's encrypted profile under the version of its current profile key (ciphertext only)",
    auth: true,
    body: http.SetProfileRequest,
    ok: [204, null],
    errors: [[400, 'invalid_request: a field is not a ciphertext of an allowed padded length']],
  },
  {
    method: 'get',
    path: '/v1/profile/{accountId}/{version}',
    summary: "An account's encrypted profile, if it is stored under this version",
    auth: true,
    ok: [200, http.ProfileResponse],
    errors: [[404, 'not_found: no such account, no profile, or another version (the profile key changed)']],
  },
  {
    method: 'put',
    path: '/v1/keys',
    summary: "Upload one-time prekeys and/or replace the caller's signed and last-resort prekeys",
    auth: true,
    body: http.UploadKeysRequest,
    ok: [204, null],
    errors: [[409, 'limit_reached: more stored keys than allowed']],
  },
  {
    method: 'get',
    path: '/v1/keys/status',
    summary: "Count the caller's stored one-time prekeys",
    auth: true,
    ok: [200, http.KeyStatusResponse],
  },
  {
    method: 'get',
    path: '/v1/keys/{accountId}/{deviceId}',
    summary: 'Fetch prekey bundles, consuming one one-time prekey of each kind per device; deviceId may be "*"',
    auth: true,
    ok: [200, http.PreKeyBundleResponse],
    errors: [[404, 'not_found']],
  },
  {
    method: 'get',
    path: '/v1/accounts/attributes',
    summary: "The caller's own sealed-sender setting: whether anyone may send the account sealed messages",
    auth: true,
    ok: [200, http.AccountAttributesResponse],
  },
  {
    method: 'put',
    path: '/v1/accounts/attributes',
    summary: "Set the account's unidentified access key and whether anyone may send it sealed messages",
    auth: true,
    body: http.AccountAttributesRequest,
    ok: [204, null],
  },
  {
    method: 'get',
    path: '/v1/certificate/delivery',
    summary: "A short-lived sender certificate (sealed sender) of the caller's account, device and identity key",
    auth: true,
    ok: [200, http.SenderCertificateResponse],
  },
  {
    method: 'put',
    path: '/v1/messages/multi',
    summary:
      'Send one ciphertext (a sender-key group message) to many devices of many accounts: checked in one pass, stored ' +
      "once. Without credentials and with Unidentified-Access-Key (XOR of the recipients' keys): a sealed-sender v2 " +
      'message (SendSealedMultiRequest) whose recipients the server reads from it',
    auth: true,
    unidentified: true,
    body: http.SendMultiRouteRequest,
    ok: [200, http.SendMultiResponse],
    errors: [
      [404, 'not_found: every unknown recipient account', http.MultiRecipientNotFoundResponse],
      [409, 'mismatched_devices: every recipient not covered exactly', http.MultiRecipientMismatchedDevicesResponse],
      [410, 'stale_devices: every recipient with changed registration ids', http.MultiRecipientStaleDevicesResponse],
      [429, 'rate_limited: too many sends or recipient devices by this device, or to a recipient (Retry-After)'],
    ],
  },
  {
    method: 'put',
    path: '/v1/messages/{accountId}',
    summary:
      "Send one envelope to each of the recipient's current devices, atomically. Without credentials and with " +
      'Unidentified-Access-Key: a sealed-sender send (type unidentified-sender), stored with no sender',
    auth: true,
    unidentified: true,
    body: http.SendMessagesRequest,
    ok: [200, http.SendMessagesResponse],
    errors: [
      [404, 'not_found: unknown account'],
      [409, 'mismatched_devices', http.MismatchedDevicesResponse],
      [410, 'stale_devices', http.StaleDevicesResponse],
      [429, 'rate_limited: too many sends by this device, or to this recipient (Retry-After)'],
      [507, 'queue_full: a recipient device has too many undelivered envelopes', http.QueueFullResponse],
    ],
  },
  {
    method: 'get',
    path: '/v1/messages',
    summary: "The caller's stored envelopes, oldest first",
    auth: true,
    ok: [200, http.EnvelopeListResponse],
  },
  {
    method: 'delete',
    path: '/v1/messages/{guid}',
    summary: 'Acknowledge (delete) one of the caller’s envelopes',
    auth: true,
    ok: [204, null],
    errors: [[404, 'not_found']],
  },
  {
    method: 'put',
    path: '/v1/push/subscription',
    summary: "Store the caller's Web Push subscription (the browser's PushSubscription.toJSON())",
    auth: true,
    body: PushSubscriptionRequest,
    ok: [204, null],
    errors: [[400, 'invalid_request: the endpoint is not https or not on the push-service allow-list']],
  },
  {
    method: 'delete',
    path: '/v1/push/subscription',
    summary: "Remove the caller's Web Push subscription (idempotent)",
    auth: true,
    ok: [204, null],
  },
  {
    method: 'get',
    path: '/v1/devices',
    summary: "The caller's account's devices",
    auth: true,
    ok: [200, http.DeviceListResponse],
  },
  {
    method: 'post',
    path: '/v1/devices/provisioning-code',
    summary: 'Primary device only: a single-use code for linking a new device',
    auth: true,
    ok: [201, http.ProvisioningCodeResponse],
    errors: [[403, 'forbidden: not the primary device']],
  },
  {
    method: 'post',
    path: '/v1/devices',
    summary: 'Link a new device to an account with a provisioning code',
    auth: false,
    body: http.LinkDeviceRequest,
    ok: [201, http.LinkDeviceResponse],
    errors: [
      [403, 'forbidden: unknown, used or expired code; sso_required: REGISTRATION=sso and no grant of the owner'],
      [409, 'limit_reached: too many devices'],
    ],
  },
  {
    method: 'delete',
    path: '/v1/devices/{deviceId}',
    summary:
      'Remove a linked device with its keys, envelopes and credential: the primary removes any, a linked device itself',
    auth: true,
    ok: [204, null],
    errors: [
      [403, 'forbidden: another device removed by a linked device, or removing the primary'],
      [404, 'not_found'],
    ],
  },
  {
    method: 'get',
    path: '/v1/sso/authorize',
    summary: 'REGISTRATION=sso: send the browser to the identity provider (authorization code with PKCE)',
    auth: false,
    ok: [302, null],
    errors: [
      [404, 'not_found: single sign-on is not enabled'],
      [503, 'unavailable: the identity provider cannot be reached'],
    ],
  },
  {
    method: 'get',
    path: '/v1/sso/callback',
    summary:
      'The provider sends the browser back here; answers 303 to the PWA with #sso-token=…&sso-username=… or #sso-error=…',
    auth: false,
    ok: [303, null],
    errors: [[404, 'not_found: single sign-on is not enabled']],
  },
  {
    method: 'post',
    path: '/v1/sso/device',
    summary: 'REGISTRATION=sso: start a device authorization grant for the command line',
    auth: false,
    ok: [200, http.SsoDeviceStartResponse],
    errors: [
      [404, 'not_found: single sign-on is not enabled'],
      [503, 'unavailable: the identity provider cannot be reached'],
    ],
  },
  {
    method: 'post',
    path: '/v1/sso/device/token',
    summary: 'Poll a device authorization grant: 428 until the person approved, then the single-use grant (once)',
    auth: false,
    body: http.SsoDevicePollRequest,
    ok: [200, http.SsoGrantResponse],
    errors: [
      [403, 'forbidden: the person declined'],
      [404, 'not_found: unknown, expired or already completed sign-in'],
      [428, 'sso_pending: not approved yet; poll again after `interval` seconds'],
      [503, 'unavailable: the identity provider did not complete the sign-in'],
    ],
  },
  {
    method: 'put',
    path: '/v1/provisioning/{address}',
    summary: 'Relay one opaque message to the device waiting on the provisioning channel at this address (once)',
    auth: true,
    body: ProvisioningSendRequest,
    ok: [204, null],
    errors: [
      [404, 'not_found: unknown, expired or already used address'],
      [413, 'payload_too_large'],
    ],
  },
  {
    method: 'get',
    path: '/v1/accounts/password',
    summary: "Whether the caller's account has a password (OPAQUE record and backup) and since when",
    auth: true,
    ok: [200, password.PasswordStatusResponse],
  },
  {
    method: 'post',
    path: '/v1/accounts/password/registration/start',
    summary: 'OPAQUE registration, first message: the server evaluates the blinded password (it never sees it)',
    auth: true,
    body: password.PasswordRegistrationStartRequest,
    ok: [200, password.PasswordRegistrationStartResponse],
  },
  {
    method: 'post',
    path: '/v1/accounts/password/registration/finish',
    summary: 'OPAQUE registration, last message: store the record and the sealed account backup (replacing any)',
    auth: true,
    body: password.PasswordRegistrationFinishRequest,
    ok: [204, null],
  },
  {
    method: 'put',
    path: '/v1/accounts/password/backup',
    summary: 'Replace the sealed account backup (same password)',
    auth: true,
    body: password.PasswordBackupRequest,
    ok: [204, null],
    errors: [[404, 'not_found: the account has no password']],
  },
  {
    method: 'delete',
    path: '/v1/accounts/password',
    summary: "Remove the account's password: the OPAQUE record and the backup are deleted",
    auth: true,
    ok: [204, null],
  },
  {
    method: 'post',
    path: '/v1/accounts/password/login/start',
    summary:
      'OPAQUE login by username, first message (an unknown username gets an answer indistinguishable from a wrong ' +
      'password); throttled per username and client address',
    auth: false,
    body: password.PasswordLoginStartRequest,
    ok: [200, password.PasswordLoginStartResponse],
  },
  {
    method: 'post',
    path: '/v1/accounts/password/login/finish',
    summary:
      'OPAQUE login, last message: on success the sealed account backup and a single-use link token for ' +
      'POST /v1/devices; a failed, expired or already finished login is refused as unauthorized',
    auth: false,
    body: password.PasswordLoginFinishRequest,
    ok: [200, password.PasswordLoginFinishResponse],
  },
  {
    method: 'post',
    path: '/v1/websocket/ticket',
    summary: 'A single-use, short-lived ticket to authenticate /v1/websocket',
    auth: true,
    ok: [201, http.WebSocketTicketResponse],
  },
  {
    method: 'post',
    path: '/v1/attachments/tus',
    summary:
      'tus creation (Tus-Resumable: 1.0.0, Upload-Length required, optional creation-with-upload body); 201 with a ' +
      'relative Location ending in the 32-character attachment id. Upload-Metadata is discarded.',
    auth: true,
    ok: [201, null],
    errors: [
      [413, 'attachment_too_large: Upload-Length above ATTACHMENT_MAX_BYTES'],
      [507, "attachment_quota: the account's attachments would exceed ATTACHMENT_QUOTA_BYTES"],
    ],
  },
  {
    method: 'head',
    path: '/v1/attachments/tus/{id}',
    summary: "tus offset of the caller's own upload (Upload-Offset, Upload-Length)",
    auth: true,
    ok: [200, null],
    errors: [[404, 'not_found: no such upload of this device']],
  },
  {
    method: 'patch',
    path: '/v1/attachments/tus/{id}',
    summary: 'tus append (Content-Type: application/offset+octet-stream, Upload-Offset); 204 with the new offset',
    auth: true,
    ok: [204, null],
    errors: [
      [404, 'not_found: no such upload of this device'],
      [409, 'invalid_request: Upload-Offset does not match, or the upload is already complete'],
    ],
  },
  {
    method: 'delete',
    path: '/v1/attachments/tus/{id}',
    summary: "Delete the caller's own upload, finished or not (frees quota)",
    auth: true,
    ok: [204, null],
    errors: [[404, 'not_found: no such upload of this device']],
  },
  {
    method: 'get',
    path: '/v1/attachments/{id}',
    summary:
      'A finished attachment as application/octet-stream (no-store); one Range gives 206, an unsatisfiable one 416',
    auth: true,
    ok: [200, null],
    errors: [
      [404, 'not_found: unknown, unfinished or expired attachment'],
      [416, 'invalid_request: range outside the attachment'],
    ],
  },
  { method: 'get', path: '/healthz', summary: 'Liveness', auth: false, ok: [200, http.HealthResponse] },
  {
    method: 'get',
    path: '/readyz',
    summary: 'Readiness (database reachable)',
    auth: false,
    ok: [200, http.HealthResponse],
  },
];

/** The JSON Schema the document gives a zod schema (exported so a test can compare a route's own schema with it). */
export function openApiSchema(schema: Schema): unknown {
  return z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' });
}

function content(schema: Schema): unknown {
  return { 'application/json': { schema: openApiSchema(schema) } };
}

/** The OpenAPI 3.1 document for `version` of the server. */
export function buildOpenApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const error = content(http.ErrorResponse);
  for (const route of [...routes, ...orgRoutes]) {
    const parameters = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    if (route.path === '/v1/messages' && route.method === 'get') {
      parameters.push({ name: 'limit', in: 'query', required: false, schema: { type: 'string' } });
    }
    if (route.path === '/v1/org/audit') {
      parameters.push({ name: 'after', in: 'query', required: false, schema: { type: 'string' } });
    }
    if (route.path === '/v1/org/directory') {
      parameters.push({ name: 'q', in: 'query', required: true, schema: { type: 'string' } });
    }
    const responses: Record<string, unknown> = {
      [String(route.ok[0])]: route.ok[1] ? { description: 'OK', content: content(route.ok[1]) } : { description: 'OK' },
      '400': { description: 'malformed_json, invalid_request, invalid_key or invalid_signature', content: error },
      '413': { description: 'payload_too_large', content: error },
      '429': { description: 'rate_limited', content: error },
    };
    if (route.auth) {
      responses['401'] = {
        description: route.unidentified
          ? 'unauthorized, or unidentified_access_denied (wrong or missing access key of a send without credentials)'
          : 'unauthorized',
        content: error,
      };
    }
    for (const [status, description, schema] of route.errors ?? []) {
      responses[String(status)] = { description, content: schema ? content(schema) : error };
    }
    const operation: Record<string, unknown> = { summary: route.summary, parameters, responses };
    if (route.body) operation.requestBody = { required: true, content: content(route.body) };
    if (route.auth)
      operation.security = route.unidentified ? [{ device: [] }, { unidentifiedAccess: [] }] : [{ device: [] }];
    (paths[route.path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Cove API',
      version,
      description:
        'Zero-knowledge server of the Cove messenger. Binary values are standard base64. Errors are {error, message}. ' +
        'Live delivery and sending: WebSocket /v1/websocket (see docs/api.md).',
    },
    components: {
      securitySchemes: {
        device: {
          type: 'http',
          scheme: 'basic',
          description: 'Basic base64("<accountId>.<deviceId>:<secret>"), secret being the base64 device credential',
        },
        unidentifiedAccess: {
          type: 'apiKey',
          in: 'header',
          name: 'Unidentified-Access-Key',
          description:
            "Sealed sender, instead of credentials: base64 of the recipient's 16-byte unidentified access key (XOR of " +
            'every recipient key for a multi-recipient send)',
        },
      },
    },
    paths,
  };
}

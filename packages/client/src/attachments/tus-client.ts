/**
 * A small tus 1.0 client (core + creation) over the platform's binary HTTP, for attachment uploads to
 * `/v1/attachments/tus` (docs/api.md, Attachments) with the device's Basic credentials. It creates an upload of a
 * known length, asks for the stored offset (HEAD) and appends pieces (PATCH). It keeps no state: the caller persists
 * the upload URL and offset. Why not tus-js-client: its HTTP-stack interface is built around request objects with
 * streams and progress callbacks and its Node build pulls in Node's http; the three requests Cove needs fit in this
 * file over the platform transport the browser and Node already provide.
 */
import { basicAuth } from '../api-client.js';
import type { MessengerContext } from '../context.js';
import { ClientError, ClientErrorCode, ServerResponseError } from '../errors.js';
import type { BinaryHttpRequest, BinaryHttpResponse, BinaryHttpTransport } from '../platform.js';

const TUS_VERSION = '1.0.0';
const utf8 = new TextDecoder();

export const binaryHttpOf = (ctx: MessengerContext): BinaryHttpTransport => {
  const http = ctx.platform.binaryHttp;
  if (!http || !ctx.platform.attachments)
    throw new ClientError(ClientErrorCode.AttachmentsUnsupported, 'this platform cannot send or receive attachments');
  return http;
};

const authHeaders = (ctx: MessengerContext): Record<string, string> => ({
  authorization: basicAuth({
    accountId: ctx.account.accountId,
    deviceId: ctx.account.deviceId,
    secret: new Uint8Array(ctx.account.secret),
  }),
});

export const serverUrl = (ctx: MessengerContext, path: string): string =>
  new URL(path, ctx.account.serverUrl).toString();

export const binaryRequest = async (ctx: MessengerContext, request: BinaryHttpRequest): Promise<BinaryHttpResponse> => {
  try {
    return await binaryHttpOf(ctx).request({ ...request, headers: { ...authHeaders(ctx), ...request.headers } });
  } catch (error) {
    if (error instanceof ClientError) throw error;
    throw new ClientError(ClientErrorCode.ServerUnreachable, `cannot reach the server at ${ctx.account.serverUrl}`);
  }
};

const bodyJson = (response: BinaryHttpResponse): Record<string, unknown> => {
  try {
    const parsed: unknown = JSON.parse(utf8.decode(response.body));
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
};

const MIB = 1024 * 1024;

/** The typed error of a tus or download answer that is not a success. */
export const attachmentHttpError = (response: BinaryHttpResponse): Error => {
  const body = bodyJson(response);
  const code = typeof body.error === 'string' ? body.error : 'unknown';
  if (response.status === 413 || code === 'attachment_too_large') {
    const max =
      typeof body.maxBytes === 'number' ? ` (the server accepts at most ${Math.floor(body.maxBytes / MIB)} MiB)` : '';
    return new ClientError(ClientErrorCode.AttachmentTooLarge, `the file is too large${max}`);
  }
  if (code === 'attachment_quota')
    return new ClientError(
      ClientErrorCode.AttachmentQuota,
      'your attachment storage on the server is full; wait for older attachments to expire',
    );
  if (response.status === 401)
    return new ClientError(ClientErrorCode.Unauthorized, "the server rejected this device's credentials");
  if (response.status === 429)
    return new ClientError(ClientErrorCode.RateLimited, 'the server is rate-limiting uploads; try again later');
  if (response.status === 404)
    return new ClientError(ClientErrorCode.AttachmentUnavailable, 'the attachment is no longer on the server');
  return new ServerResponseError(response.status, code, `server answered ${response.status} ${code}`, body);
};

/** Creates an upload of `length` bytes; returns its absolute URL. */
export const createUpload = async (ctx: MessengerContext, length: number): Promise<string> => {
  const response = await binaryRequest(ctx, {
    method: 'POST',
    url: serverUrl(ctx, '/v1/attachments/tus'),
    headers: { 'tus-resumable': TUS_VERSION, 'upload-length': String(length) },
  });
  const location = response.headers.location;
  if (response.status !== 201 || !location) throw attachmentHttpError(response);
  return new URL(location, ctx.account.serverUrl).toString();
};

const offsetOf = (response: BinaryHttpResponse): number => {
  const offset = Number(response.headers['upload-offset']);
  if (!Number.isSafeInteger(offset) || offset < 0)
    throw new ServerResponseError(
      response.status,
      'invalid_upload_offset',
      'the server sent no valid Upload-Offset',
      null,
    );
  return offset;
};

/** The offset the server holds for an upload (HEAD). */
export const uploadOffset = async (ctx: MessengerContext, url: string): Promise<number> => {
  const response = await binaryRequest(ctx, { method: 'HEAD', url, headers: { 'tus-resumable': TUS_VERSION } });
  if (response.status !== 200 && response.status !== 204) throw attachmentHttpError(response);
  return offsetOf(response);
};

/** Appends `bytes` at `offset`; returns the server's new offset (on 409, the offset it holds). */
export const appendToUpload = async (
  ctx: MessengerContext,
  url: string,
  offset: number,
  bytes: Uint8Array<ArrayBuffer>,
): Promise<number> => {
  const response = await binaryRequest(ctx, {
    method: 'PATCH',
    url,
    headers: {
      'tus-resumable': TUS_VERSION,
      'upload-offset': String(offset),
      'content-type': 'application/offset+octet-stream',
    },
    body: bytes,
  });
  if (response.status === 409) return uploadOffset(ctx, url);
  if (response.status !== 204 && response.status !== 200) throw attachmentHttpError(response);
  return offsetOf(response);
};

/** Deletes an upload (finished or not), freeing its quota; best effort: a failure is only logged. */
export const deleteUpload = async (ctx: MessengerContext, url: string): Promise<void> => {
  try {
    const response = await binaryRequest(ctx, { method: 'DELETE', url, headers: { 'tus-resumable': TUS_VERSION } });
    if (response.status !== 204 && response.status !== 404) throw attachmentHttpError(response);
  } catch (error) {
    ctx.platform.logger.info('attachment upload not deleted', {
      error: error instanceof ClientError ? error.code : 'unknown',
    });
  }
};

/**
 * Single sign-on for clients without a browser redirect (`REGISTRATION=sso`): the device authorization grant, as the
 * server runs it with the organization's identity provider. `startSsoDeviceSignIn` asks for a user code and the
 * address to enter it at; `pollSsoDeviceSignIn` asks once whether the person finished, and yields the single-use
 * grant (the username the organization gives them and the token to register or link with) when they did. It does not
 * wait between polls (the caller owns time) and does not register.
 */
import type { SsoDeviceStartResponse, SsoGrantResponse } from '@cove/protocol';

import type { ApiClient } from './api-client.js';
import { ClientError, ClientErrorCode, ServerResponseError } from './errors.js';

/** What the person is shown: where to go, the code to enter there, and when it stops working. */
export type SsoDeviceSignIn = SsoDeviceStartResponse;

/** A finished single sign-on: the username the organization gives, the token, whether the person has an account. */
export type SsoGrant = SsoGrantResponse;

/** One poll: still waiting (ask again after `interval` seconds), or the grant. */
export type SsoPoll = { state: 'pending'; interval: number } | { state: 'granted'; grant: SsoGrant };

export const startSsoDeviceSignIn = async (api: ApiClient): Promise<SsoDeviceSignIn> => {
  try {
    return await api.ssoDeviceStart();
  } catch (error) {
    throw ssoError(error);
  }
};

export const pollSsoDeviceSignIn = async (api: ApiClient, handle: string): Promise<SsoPoll> => {
  try {
    return { state: 'granted', grant: await api.ssoDevicePoll(handle) };
  } catch (error) {
    if (error instanceof ServerResponseError && error.status === 428 && error.errorCode === 'sso_pending') {
      const interval = (error.body as { interval?: unknown } | undefined)?.interval;
      return { state: 'pending', interval: typeof interval === 'number' && interval > 0 ? interval : 5 };
    }
    throw ssoError(error);
  }
};

/** The server's refusals in the words a person acts on. */
const ssoError = (error: unknown): unknown => {
  if (!(error instanceof ServerResponseError)) return error;
  if (error.status === 404 && error.errorCode === 'not_found')
    return new ClientError(
      ClientErrorCode.SsoRequired,
      error.message.includes('not enabled')
        ? 'this server does not use single sign-on'
        : 'the sign-in expired or was already used: start again',
    );
  if (error.status === 403) {
    const reason = (error.body as { message?: unknown } | undefined)?.message;
    return new ClientError(
      ClientErrorCode.SsoDenied,
      error.errorCode === 'sso_not_allowed'
        ? `the organization does not let this account join${typeof reason === 'string' ? `: ${reason}` : ''}`
        : 'the sign-in was declined at the identity provider',
    );
  }
  if (error.status === 503)
    return new ClientError(ClientErrorCode.ServerError, 'the identity provider cannot be reached; try again later');
  return error;
};

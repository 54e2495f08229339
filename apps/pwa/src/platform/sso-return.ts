/**
 * The end of a browser single sign-on: the server's callback sends the browser back to the app with the outcome in
 * the URL fragment (`#sso-token=…&sso-username=…[&sso-existing=1]` or `#sso-error=<code>`). `takeSsoReturn` reads it
 * once and removes it from the address bar and the session history at once (`history.replaceState`), so the
 * single-use token stays in no bookmark, reload or screenshot of the address. It does not register or link: the app
 * shell does, with the token it returns.
 */
/** The outcome as the app reads it (the same shape as the app model's `SsoReturn`). */
export type SsoReturn =
  { kind: 'token'; token: string; username: string; existing: boolean } | { kind: 'error'; code: string };

/** The token the server issues: 32 random bytes, base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Mirrors the server's username rule. */
const USERNAME_PATTERN = /^[A-Za-z0-9_.]{3,32}$/;
/** Error codes are short words; anything else is shown as a generic failure. */
const ERROR_PATTERN = /^[a-z-]{1,32}$/;

export function takeSsoReturn(): SsoReturn | null {
  const hash = globalThis.location.hash;
  if (!hash.includes('sso-')) return null;
  const params = new URLSearchParams(hash.slice(1));
  const token = params.get('sso-token');
  const error = params.get('sso-error');
  if (token === null && error === null) return null;
  globalThis.history.replaceState(
    globalThis.history.state,
    '',
    `${globalThis.location.pathname}${globalThis.location.search}`,
  );
  if (error !== null) return { kind: 'error', code: ERROR_PATTERN.test(error) ? error : 'provider' };
  const username = params.get('sso-username') ?? '';
  if (token === null || !TOKEN_PATTERN.test(token) || !USERNAME_PATTERN.test(username))
    return { kind: 'error', code: 'provider' };
  return { kind: 'token', token, username, existing: params.get('sso-existing') === '1' };
}

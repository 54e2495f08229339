/**
 * An invite link from the admin console (`https://server/?invite=CODE`): `takeInviteFromAddress` reads the code once
 * and removes it from the address bar (`history.replaceState`), so that it stays in no bookmark or screenshot of the
 * address once the onboarding screen holds it. It does not register: the onboarding screen pre-fills its invite field.
 */

/** Mirrors what the server issues (base64url or hex words); anything else is ignored, not pre-filled. */
const INVITE_PATTERN = /^[A-Za-z0-9_-]{8,128}$/;

export function takeInviteFromAddress(): string | null {
  const { search, pathname, hash } = globalThis.location;
  if (!search.includes('invite=')) return null;
  const params = new URLSearchParams(search);
  const code = params.get('invite');
  params.delete('invite');
  const rest = params.toString();
  globalThis.history.replaceState(globalThis.history.state, '', `${pathname}${rest ? `?${rest}` : ''}${hash}`);
  return code !== null && INVITE_PATTERN.test(code) ? code : null;
}

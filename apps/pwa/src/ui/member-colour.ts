/**
 * A stable colour per group member for sender names: the same account always gets the same one of eight classes
 * (`sender-c0` … `sender-c7`, styled in styles.css with a light and a dark shade that both stay readable on the
 * incoming bubble). It does not pick colours itself and knows nothing of names.
 */

/** Eight colours: enough to tell a small group's members apart; more would lose contrast or distinctness. */
export const MEMBER_COLOURS = 8;

/** The colour class of an account id (FNV-1a over its characters, so it never changes between sessions). */
export function memberColourClass(accountId: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < accountId.length; i++) hash = Math.imul(hash ^ accountId.charCodeAt(i), 0x01000193) >>> 0;
  return `sender-c${hash % MEMBER_COLOURS}`;
}

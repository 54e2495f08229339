/**
 * The words for system lines in the UI's language: group changes ("Ann added Ben", "你将 Ben 移出了群组") and the
 * disappearing-message timer set or turned off, in a group or a direct conversation ("Bob set disappearing messages
 * to 1 hour"). The stored English rendering is never shown; names are joined with the language's list format.
 * Display only.
 */
import type { TFunction } from 'i18next';
import type { SystemLine } from '../app/model.js';
import { formatTimer } from './format.js';

/** A list of names in the language's style ("Ann, Ben and Cy" / "Ann、Ben和Cy"); the user is "you". */
function names(members: readonly string[], t: TFunction, language: string): string {
  const shown = members.map((m) => (m === '' ? t('group.you') : m));
  try {
    return new Intl.ListFormat(language, { type: 'conjunction' }).format(shown);
  } catch {
    return shown.join(', ');
  }
}

/**
 * A system line's text. `peerName` (direct conversations) names the other person, who is the actor of every line
 * the user did not make there.
 */
export function systemText(line: SystemLine, t: TFunction, language: string, peerName?: string): string {
  if (line.kind === 'timer') {
    const name = peerName ?? line.actor ?? '';
    if (line.expireTimerSeconds === null)
      return line.actor === null ? t('disappearing.youOff') : t('disappearing.theyOff', { name });
    const time = formatTimer(line.expireTimerSeconds, language);
    return line.actor === null ? t('disappearing.youSet', { time }) : t('disappearing.theySet', { name, time });
  }
  const actor = line.actor ?? t('group.you');
  const mine = line.actor === null ? 'Me' : '';
  const members = names(line.members, t, language);
  switch (line.kind) {
    case 'created':
      return t(`group.system.created${mine}`, { actor, title: line.title ?? '' });
    case 'added':
      return t(`group.system.added${mine}`, { actor, members });
    case 'removed':
      return t(`group.system.removed${mine}`, { actor, members });
    case 'left':
      return t(`group.system.left${mine}`, { actor });
    case 'admin':
      return t(`group.system.admin${mine}`, { actor, members });
    case 'title':
      return t(`group.system.title${mine}`, { actor, title: line.title ?? '' });
    case 'description':
      return t(`group.system.description${mine}`, { actor });
  }
}

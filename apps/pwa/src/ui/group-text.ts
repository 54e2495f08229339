/**
 * The words for group changes in the UI's language: a system line ("Ann added Ben", "你将 Ben 移出了群组") and the
 * list's preview of a group message ("Ann: …"). The stored English rendering is never shown; names are joined with
 * the language's list format. Display only.
 */
import type { TFunction } from 'i18next';
import type { SystemLine } from '../app/model.js';

/** A list of names in the language's style ("Ann, Ben and Cy" / "Ann、Ben和Cy"); the user is "you". */
function names(members: readonly string[], t: TFunction, language: string): string {
  const shown = members.map((m) => (m === '' ? t('group.you') : m));
  try {
    return new Intl.ListFormat(language, { type: 'conjunction' }).format(shown);
  } catch {
    return shown.join(', ');
  }
}

export function systemText(line: SystemLine, t: TFunction, language: string): string {
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
    case 'timer':
      return line.expireTimerSeconds
        ? t(`group.system.timer${mine}`, { actor, seconds: line.expireTimerSeconds })
        : t(`group.system.timerOff${mine}`, { actor });
  }
}

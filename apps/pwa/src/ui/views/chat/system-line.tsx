/**
 * A line in the history that is not a message, in the UI's language: a group change ("Ann added Ben") or the
 * disappearing-message timer set or turned off, in a group or a direct conversation ("You set disappearing messages
 * to 1 hour", "Bob turned off disappearing messages"). `data-kind` says which change; a timer line also carries
 * `data-timer` (seconds, 0 when off) and the timer icon. Display only.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../../app/model.js';
import { systemText } from '../../group-text.js';
import { IconTimer } from '../../icons.js';

export function SystemLine({ message, peerName }: { message: ChatMessage; peerName?: string }): ReactElement | null {
  const { t, i18n } = useTranslation();
  const system = message.system;
  if (!system) return null;
  const timer = system.kind === 'timer';
  return (
    <p
      className="system-line"
      data-testid="system-line"
      data-kind={system.kind}
      {...(timer ? { 'data-timer': system.expireTimerSeconds ?? 0 } : {})}
    >
      {timer ? <IconTimer /> : null}
      <span>{systemText(system, t, i18n.language, peerName)}</span>
    </p>
  );
}

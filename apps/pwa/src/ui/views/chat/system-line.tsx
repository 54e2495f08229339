/**
 * A line in the history that is not a message: who set the disappearing-message timer to what, or turned it off
 * ("You set disappearing messages to 1 hour", "Bob turned off disappearing messages"), in the UI's language.
 * Display only.
 */
import type { ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ChatMessage } from '../../../app/model.js';
import { formatTimer } from '../../format.js';
import { IconTimer } from '../../icons.js';

export function SystemLine({ message, peerName }: { message: ChatMessage; peerName: string }): ReactElement | null {
  const { t, i18n } = useTranslation();
  const system = message.system;
  if (!system) return null;
  const seconds = system.seconds;
  const text =
    seconds === null
      ? message.outgoing
        ? t('disappearing.youOff')
        : t('disappearing.theyOff', { name: peerName })
      : message.outgoing
        ? t('disappearing.youSet', { time: formatTimer(seconds, i18n.language) })
        : t('disappearing.theySet', { name: peerName, time: formatTimer(seconds, i18n.language) });
  return (
    <p className="system-line" data-testid="system-line" data-timer={seconds ?? 0}>
      <IconTimer />
      <span>{text}</span>
    </p>
  );
}

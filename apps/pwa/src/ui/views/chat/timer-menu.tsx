/**
 * The chat header's disappearing-messages control: a timer button (showing the current timer, when on) that opens
 * a menu of the timers Signal offers (off, 30 s, 5 min, 1 h, 8 h, 1 day, 1 week, 4 weeks). Escape or a click
 * outside closes it; choosing one hands it to `onChoose`. Display only.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { formatTimer } from '../../format.js';
import { IconTimer } from '../../icons.js';

/** The timers offered, in seconds (0: off); Signal's list. */
export const TIMER_CHOICES: readonly number[] = [0, 30, 300, 3_600, 28_800, 86_400, 604_800, 2_419_200];

export function TimerMenu({
  seconds,
  onChoose,
}: {
  /** The current timer; null when off. */
  seconds: number | null;
  onChoose: (seconds: number | null) => void;
}): ReactElement {
  const { t, i18n } = useTranslation();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'Escape') return;
      setOpen(false);
      button.current?.focus();
    };
    const onPointer = (event: PointerEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('keydown', onKey);
    document.addEventListener('pointerdown', onPointer);
    root.current?.querySelector<HTMLButtonElement>('[aria-checked="true"]')?.focus();
    return () => {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('pointerdown', onPointer);
    };
  }, [open]);

  const current = seconds === null ? t('disappearing.offShort') : formatTimer(seconds, i18n.language, 'short');
  return (
    <div className="timer-control" ref={root}>
      <button
        ref={button}
        type="button"
        className={`icon-button chat-timer-button${seconds === null ? '' : ' on'}`}
        data-testid="disappearing-button"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label={t('disappearing.button', { state: current })}
        onClick={() => setOpen((o) => !o)}
      >
        <IconTimer />
        {seconds === null ? null : (
          <span className="chat-timer" data-testid="chat-timer">
            {current}
          </span>
        )}
      </button>
      {open ? (
        <div className="timer-menu" role="menu" aria-labelledby="timer-menu-title">
          <h2 id="timer-menu-title">{t('disappearing.title')}</h2>
          {TIMER_CHOICES.map((choice) => {
            const checked = (seconds ?? 0) === choice;
            return (
              <button
                key={choice}
                type="button"
                role="menuitemradio"
                aria-checked={checked}
                data-testid="disappearing-option"
                data-seconds={choice}
                onClick={() => {
                  setOpen(false);
                  button.current?.focus();
                  if (!checked) onChoose(choice === 0 ? null : choice);
                }}
              >
                <span>{choice === 0 ? t('disappearing.offShort') : formatTimer(choice, i18n.language)}</span>
                {checked ? <span aria-hidden="true">✓</span> : null}
              </button>
            );
          })}
        </div>
      ) : null}
    </div>
  );
}

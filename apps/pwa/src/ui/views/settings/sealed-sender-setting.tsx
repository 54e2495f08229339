/**
 * The sealed-sender choice in the privacy settings: who may send the account messages the server cannot attribute
 * ("contacts only", the default, or "anyone"). It shows the value this device last saw at once, reads the server's
 * (another device may have changed it) when it appears, and writes a change to the server through the settings view
 * model. It keeps no state but our last change and a failed one: while our change is on its way the radios show it,
 * and once it is over they show it until the stored setting is read again, so they never flip back to the old value
 * in between; from that read on, the stored setting wins, whatever it says (another device or the server's read may
 * have changed it again right after our save). It does not decide anything about the setting itself: the core does.
 */
import { useEffect, useRef, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { SealedSenderChoice } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';

const CHOICES: readonly SealedSenderChoice[] = ['contacts', 'anyone'];

/** The stored setting (null when it could not be read) and the number of the read that found it. */
type Stored = { choice: SealedSenderChoice | null; read: number };

/**
 * Our last change: the choice, and once its save is over (`null` while on its way), the number of the last read of
 * storage begun by then. A read numbered higher began after the save, so it saw our choice or something newer.
 */
type Change = { choice: SealedSenderChoice; settledAfterRead: number | null };

export function SealedSenderSetting(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [failed, setFailed] = useState(false);
  const [change, setChange] = useState<Change | null>(null);
  /** Reads of the stored setting begun so far: numbers them in the order they start. */
  const reads = useRef(0);
  // Read again when a save ends (the change is a dependency): that read is the one that tells whether our choice
  // still stands, and it must not wait for the next unrelated revision.
  const stored = useLive<Stored>(() => {
    reads.current += 1;
    const read = reads.current;
    return app.settings.sealedSender().then(
      (choice) => ({ choice, read }),
      () => ({ choice: null, read }),
    );
  }, [change]);
  useEffect(() => {
    // A change made on another device reaches this one through the server: the core announces it and we redraw.
    void app.settings.sealedSender(true).catch(() => undefined);
  }, [app]);
  const current = stored?.choice;
  const inFlight = change !== null && change.settledAfterRead === null;
  const held =
    change !== null &&
    (change.settledAfterRead === null || stored === undefined || stored.read <= change.settledAfterRead);
  const shown = held ? change.choice : (current ?? null);
  return (
    <fieldset className="theme-choice" data-testid="sealed-sender-setting" data-value={shown ?? ''}>
      <legend>
        <strong>{t('settings.sealedSender')}</strong>
        <br />
        <small className="muted">{t('settings.sealedSenderHint')}</small>
      </legend>
      {CHOICES.map((choice) => (
        <label key={choice}>
          <input
            type="radio"
            name="sealed-sender"
            value={choice}
            data-testid={`sealed-sender-${choice}`}
            checked={shown === choice}
            disabled={current === undefined || current === null || inFlight}
            onChange={() => {
              setFailed(false);
              setChange({ choice, settledAfterRead: null });
              const undo = (): void => {
                setFailed(true);
                setChange(null);
              };
              void app.settings
                .setSealedSender(choice)
                .then((saved) => (saved ? setChange({ choice, settledAfterRead: reads.current }) : undo()), undo);
            }}
          />
          {t(choice === 'anyone' ? 'settings.sealedSenderAnyone' : 'settings.sealedSenderContacts')}
        </label>
      ))}
      {shown ? (
        <small className="muted sealed-sender-hint">
          {t(shown === 'anyone' ? 'settings.sealedSenderAnyoneHint' : 'settings.sealedSenderContactsHint')}
        </small>
      ) : null}
      {failed ? (
        <p className="error" role="alert">
          {t('settings.sealedSenderFailed')}
        </p>
      ) : null}
    </fieldset>
  );
}

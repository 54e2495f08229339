/**
 * The sealed-sender choice in the privacy settings: who may send the account messages the server cannot attribute
 * ("contacts only", the default, or "anyone"). It shows the value this device last saw at once, reads the server's
 * (another device may have changed it) when it appears, and writes a change to the server through the settings view
 * model; it keeps no state but a change on its way and a failed one. A saved choice stays shown until the stored
 * setting reads as it, so the radios never flip back to the old value in between.
 */
import { useEffect, useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { SealedSenderChoice } from '../../../app/model.js';
import { useApp, useLive } from '../../use-app.js';

const CHOICES: readonly SealedSenderChoice[] = ['contacts', 'anyone'];

export function SealedSenderSetting(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [failed, setFailed] = useState(false);
  /** The choice being saved, or saved and not yet read back from storage. */
  const [saving, setSaving] = useState<SealedSenderChoice | null>(null);
  const [inFlight, setInFlight] = useState(false);
  const current = useLive<SealedSenderChoice | null>(() => app.settings.sealedSender().catch(() => null), []);
  useEffect(() => {
    if (!inFlight && saving !== null && current === saving) setSaving(null);
  }, [inFlight, saving, current]);
  useEffect(() => {
    // A change made on another device reaches this one through the server: the core announces it and we redraw.
    void app.settings.sealedSender(true).catch(() => undefined);
  }, [app]);
  const shown = saving ?? current ?? null;
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
              setSaving(choice);
              setInFlight(true);
              const undo = (): void => {
                setFailed(true);
                setSaving(null);
              };
              void app.settings
                .setSealedSender(choice)
                .then((saved) => (saved ? undefined : undo()), undo)
                .finally(() => setInFlight(false));
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

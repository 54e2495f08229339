/**
 * The contact screen: the safety number with its QR code (`contact/safety-number-panel.tsx`), comparison by camera
 * scan or paste (`contact/safety-compare-panel.tsx`), and "mark as verified", which passes the digits on screen so
 * that a number that changed meanwhile is refused (and said so) instead of trusting a key never compared. After a
 * comparison that did not match, marking verified is demoted to a plain "anyway" link under the advice on what to do.
 */
import { NicknameField } from './contact/nickname-field.js';
import { useState, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { IconAlert, IconBack } from '../icons.js';
import { useApp, useLive } from '../use-app.js';
import { SafetyComparePanel, type CompareResult } from './contact/safety-compare-panel.js';
import { SafetyNumberPanel } from './contact/safety-number-panel.js';

export function ContactView({ conversationId, onBack }: { conversationId: string; onBack: () => void }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const safety = useLive(() => app.contact.safety(conversationId), [conversationId]);
  /** Set when "Mark as verified" found the number changed since it was shown; cleared when a new number shows. */
  const [changed, setChanged] = useState<string | null>(null);
  /** The last comparison: after "they don't match", marking verified is no longer the primary action. */
  const [compared, setCompared] = useState<CompareResult>(null);

  const markVerified = async (digitsShown: string) => {
    const result = await app.contact.markVerified(conversationId, digitsShown);
    setChanged(result === 'changed' ? digitsShown : null);
  };

  return (
    <section className="chat-pane contact-pane" aria-labelledby="contact-title">
      <header className="toolbar">
        <button type="button" className="icon-button" onClick={onBack} aria-label={t('chat.back')}>
          <IconBack />
        </button>
        <h1 id="contact-title" className="toolbar-heading">
          {t('contact.title')}
        </h1>
      </header>
      <div className="contact-body">
        {safety ? (
          <>
            <SafetyNumberPanel safety={safety} />
            <NicknameField conversationId={conversationId} />
            <SafetyComparePanel conversationId={conversationId} onResult={setCompared} />
            {changed !== null ? (
              <div className="banner warn" role="alert" data-testid="verify-changed">
                <IconAlert />
                <p>{t('contact.numberChanged', { name: safety.title })}</p>
              </div>
            ) : null}
            {!safety.verified ? (
              <button
                type="button"
                className={compared === 'mismatch' ? 'link-button danger-text' : 'primary wide'}
                data-testid="mark-verified-button"
                data-emphasis={compared === 'mismatch' ? 'demoted' : 'primary'}
                onClick={() => void markVerified(safety.digits)}
              >
                {compared === 'mismatch' ? t('contact.markVerifiedAnyway') : t('contact.markVerified')}
              </button>
            ) : null}
          </>
        ) : (
          <div aria-busy="true" />
        )}
      </div>
    </section>
  );
}

/**
 * The contact screen's nickname: a name for the contact on this device only, shown before their profile name and
 * username (docs/profiles.md). Keeps only the field's text; the contact view model saves.
 */
import { useEffect, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import { useApp } from '../../use-app.js';

export function NicknameField({ conversationId }: { conversationId: string }): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [nickname, setNickname] = useState('');
  const [result, setResult] = useState<'saved' | 'invalid' | null>(null);

  useEffect(() => {
    let live = true;
    void app.contact.nickname(conversationId).then((n) => {
      if (live) setNickname(n ?? '');
    });
    return () => {
      live = false;
    };
  }, [app, conversationId]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setResult(await app.contact.setNickname(conversationId, nickname));
  };

  return (
    <form className="card" onSubmit={(e) => void save(e)} aria-labelledby="nickname-heading">
      <h2 id="nickname-heading">{t('contact.nickname')}</h2>
      <label className="field">
        <span>{t('contact.nicknameHint')}</span>
        <input
          data-testid="nickname-input"
          value={nickname}
          maxLength={100}
          aria-invalid={result === 'invalid'}
          onChange={(e) => setNickname(e.target.value)}
        />
      </label>
      <button type="submit" className="primary" data-testid="nickname-save">
        {t('contact.nicknameSave')}
      </button>
      <p role="status" aria-live="polite" className={result === 'invalid' ? 'error' : 'success'}>
        {result === 'saved' ? t('contact.nicknameSaved') : result === 'invalid' ? t('contact.nicknameInvalid') : ''}
      </p>
    </form>
  );
}

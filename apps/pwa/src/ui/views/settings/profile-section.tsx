/**
 * The settings card of the encrypted profile (docs/profiles.md): display name, about line (with the composer's emoji
 * picker beside it) and a profile photo
 * (cropped to a square and re-encoded without metadata by the platform), saved together; contacts see it once they
 * have the profile key from a message. Keeps only the form's fields; the settings view model saves.
 */
import { lazy, Suspense, useEffect, useRef, useState, type FormEvent, type ReactElement } from 'react';
import { useTranslation } from 'react-i18next';
import type { ProfileSaveResult } from '../../../app/model.js';
import { Avatar } from '../../avatar.js';
import { IconSmile } from '../../icons.js';
import { useApp } from '../../use-app.js';

/** The composer's emoji picker, loaded on first use here too (its data is large). */
const EmojiPicker = lazy(() => import('../chat/emoji-picker.js').then((m) => ({ default: m.EmojiPicker })));

export function ProfileSection(): ReactElement {
  const { t } = useTranslation();
  const app = useApp();
  const [name, setName] = useState('');
  const [about, setAbout] = useState('');
  const [avatar, setAvatar] = useState<Uint8Array | null>(null);
  const [file, setFile] = useState<File | null>(null);
  const [result, setResult] = useState<ProfileSaveResult | 'working' | null>(null);
  const [emojiOpen, setEmojiOpen] = useState(false);
  const aboutInput = useRef<HTMLInputElement>(null);

  /** Puts a picked emoji where the cursor is in the about line (as the composer does), keeping the focus there. */
  const insertEmoji = (emoji: string) => {
    const field = aboutInput.current;
    const start = field?.selectionStart ?? about.length;
    const end = field?.selectionEnd ?? about.length;
    setAbout(about.slice(0, start) + emoji + about.slice(end));
    requestAnimationFrame(() => {
      if (!field) return;
      field.focus();
      field.setSelectionRange(start + emoji.length, start + emoji.length);
    });
  };

  useEffect(() => {
    let live = true;
    void app.settings.profile().then((p) => {
      if (!live) return;
      setName(p.name);
      setAbout(p.about);
      setAvatar(p.avatar);
    });
    return () => {
      live = false;
    };
  }, [app]);

  const save = async (event: FormEvent) => {
    event.preventDefault();
    setResult('working');
    const saved = await app.settings.saveProfile({ name, about }, file);
    setResult(saved);
    if (saved === 'saved') {
      setFile(null);
      setAvatar((await app.settings.profile()).avatar);
    }
  };

  return (
    <form className="card" onSubmit={(e) => void save(e)} aria-labelledby="profile-heading">
      <h2 id="profile-heading">{t('profile.title')}</h2>
      <p className="muted">{t('profile.explain')}</p>
      <div className="profile-photo-row">
        <Avatar name={name || '?'} size={72} {...(avatar ? { image: avatar } : {})} />
        <label className="field">
          <span>{t('profile.photo')}</span>
          <input
            type="file"
            accept="image/*"
            data-testid="profile-avatar-input"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
          />
        </label>
      </div>
      <label className="field">
        <span>{t('profile.name')}</span>
        <input
          data-testid="profile-name-input"
          value={name}
          maxLength={100}
          autoComplete="name"
          aria-invalid={result === 'invalid'}
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <div className="field">
        <label htmlFor="profile-about">{t('profile.about')}</label>
        <div className="field-with-button">
          <input
            id="profile-about"
            ref={aboutInput}
            data-testid="profile-about-input"
            value={about}
            maxLength={400}
            onChange={(e) => setAbout(e.target.value)}
          />
          <button
            type="button"
            className="icon-button"
            data-testid="profile-about-emoji-button"
            aria-label={t('chat.emoji')}
            aria-expanded={emojiOpen}
            onClick={() => setEmojiOpen((o) => !o)}
          >
            <IconSmile />
          </button>
        </div>
        {emojiOpen ? (
          <Suspense fallback={<div className="emoji-picker" aria-busy="true" />}>
            <EmojiPicker onPick={insertEmoji} />
          </Suspense>
        ) : null}
      </div>
      <button type="submit" className="primary" data-testid="profile-save" disabled={result === 'working'}>
        {result === 'working' ? t('settings.working') : t('profile.save')}
      </button>
      <p
        role="status"
        aria-live="polite"
        data-testid="profile-status"
        className={result === 'saved' ? 'success' : 'error'}
      >
        {result === 'saved'
          ? t('profile.saved')
          : result === 'invalid'
            ? t('profile.invalid')
            : result === 'network'
              ? t('profile.network')
              : result === 'bad-image'
                ? t('profile.badImage')
                : ''}
      </p>
    </form>
  );
}

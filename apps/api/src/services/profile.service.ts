/**
 * Encrypted profiles (docs/profiles.md): an account stores the ciphertext of its name, about line and avatar under
 * the version derived from its profile key; anyone authenticated who names that version gets the ciphertext back,
 * and a caller naming another version (a key it no longer holds) gets 404. The server cannot read a profile: it
 * checks only that every field has one of the padded lengths, so that nothing else can be stored as a profile.
 */
import { Injectable } from '@nestjs/common';
import { ErrorCode, PROFILE_CIPHERTEXT_SIZES, type ProfileResponse, type SetProfileRequest } from '@cove/protocol';

import type { Bytes } from '../repositories/database.repository.js';
import { ProfileRepository } from '../repositories/profile.repository.js';
import { ApiError } from './api-error.js';
import type { AuthenticatedDevice } from './auth.service.js';

type Field = keyof typeof PROFILE_CIPHERTEXT_SIZES;

const decodeField = (field: Field, value: string | undefined): Bytes | null => {
  if (value === undefined) return null;
  const bytes = Buffer.from(value, 'base64');
  if (!(PROFILE_CIPHERTEXT_SIZES[field] as readonly number[]).includes(bytes.length))
    throw new ApiError(400, ErrorCode.InvalidRequest, `${field} is not a padded profile ciphertext`);
  return new Uint8Array(bytes);
};

const encodeField = (value: Bytes | null): string | undefined =>
  value === null ? undefined : Buffer.from(value).toString('base64');

@Injectable()
export class ProfileService {
  constructor(private readonly profiles: ProfileRepository) {}

  async set(device: AuthenticatedDevice, body: SetProfileRequest): Promise<void> {
    const profile = {
      version: body.version,
      name: decodeField('name', body.name),
      about: decodeField('about', body.about),
      avatar: decodeField('avatar', body.avatar),
    };
    await this.profiles.put(device.accountId, profile);
  }

  async get(accountId: string, version: string): Promise<ProfileResponse> {
    const stored = await this.profiles.get(accountId);
    // One answer for every miss (no account, no profile, another version): a caller learns only that it lacks the key.
    if (!stored || stored.version !== version)
      throw new ApiError(404, ErrorCode.NotFound, 'no profile of this version');
    const response: ProfileResponse = { accountId, version };
    const name = encodeField(stored.name);
    const about = encodeField(stored.about);
    const avatar = encodeField(stored.avatar);
    if (name !== undefined) response.name = name;
    if (about !== undefined) response.about = about;
    if (avatar !== undefined) response.avatar = avatar;
    return response;
  }
}

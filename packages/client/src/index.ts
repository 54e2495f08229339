/**
 * `@cove/client`: the Cove messenger core shared by the PWA, the CLI, bots and tests — `Messenger` and the platform
 * interfaces it runs on. Node implementations of the platform are in `@cove/client/node`.
 */
export * from './platform.js';
export * from './errors.js';
export * from './events.js';
export * from './tables.js';
export * from './messenger.js';
export { History, MAX_PAGE_SIZE, isStatusAdvance } from './history.js';
export {
  HISTORY_DEFAULT_DAYS,
  HISTORY_DEFAULT_MESSAGES,
  type HistoryArchiveOptions,
  type HistoryImportOutcome,
  type HistoryProgressSink,
  type HistoryTransferPhase,
  type HistoryTransferProgress,
} from './history-transfer.js';
export type { MessagePage } from './history.js';
export type { RegisterOptions } from './account.js';
export type { InboxResult } from './inbox.js';
export type { UpkeepResult } from './prekeys.js';
export type { MessageInfo } from './message-actions.js';
export type { ProfileInput } from './profiles.js';
export {
  MAX_NICKNAME_GRAPHEMES,
  MAX_PROFILE_ABOUT_GRAPHEMES,
  MAX_PROFILE_NAME_GRAPHEMES,
  PROFILE_REFRESH_MS,
  contactDisplayName,
  graphemeCount,
} from './profiles.js';
export { computeSafetyNumber, formatSafetyNumber, uuidBytes } from './trust.js';
export type { SafetyNumber } from './trust.js';
export { DRAFT_PREFIX, draftKey } from './drafts.js';
export { KeyedMutex } from './keyed-mutex.js';
export {
  CHAT_PREFERENCES_PREFIX,
  MAX_PINNED,
  MUTED_FOREVER,
  changeChatPreferences,
  isArchived,
  isMuted,
  readChatPreference,
  readChatPreferences,
  toChatPreferences,
} from './chat-preferences.js';
export type { ChatPreferencesChange } from './chat-preferences.js';
export { escapeText, formatTimestamp, hasUnsafeText } from './display.js';
export * as constants from './constants.js';
export { createMemoryBlobStore } from './attachments/memory-blob-store.js';
export type { OutgoingAttachment } from './attachments/attachment-service.js';
export { AUTO_DOWNLOAD_MAX_BYTES } from './attachments/attachment-service.js';
export {
  bigrams,
  foldText,
  matchText,
  matchesQuery,
  parseQuery,
  searchTokens,
  snippetParts,
  MAX_QUERY_CHARS,
} from './search.js';
export type { FoldedText, MatchRange, QueryTerm, SnippetPart } from './search.js';
export { Organization, ROLE_CERTIFICATE_LIFETIME_MS, auditHashOf } from './organization.js';
export type { AuditVerification, MemberView, OrganizationRole, OrganizationStatus } from './organization.js';
export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, validatePassword } from './password.js';
export type { SsoDeviceSignIn, SsoGrant, SsoPoll } from './sso.js';

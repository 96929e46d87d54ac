export { ApiKeyRevocations, type RevocationHandlers } from './api-key-revocations.ts';
export {
  API_KEY_ID_PATTERN,
  API_KEY_SCOPES,
  type ApiKey,
  type ApiKeyInput,
  type ApiKeyScope,
  ApiKeyStore,
  type CreatedApiKey,
  isApiKeyScope,
  parseApiKey,
  type RevokeResult,
  validateApiKeyInput,
} from './api-keys.ts';
export { type Note, NoteStore } from './notes.ts';
export { createPool, migrate } from './postgres.ts';
export {
  GROUP_PATTERN,
  type Profile,
  type ProfileInput,
  ProfileStore,
  profileSchema,
  TENANT_PATTERN,
  validateProfile,
} from './profiles.ts';
export { QuotaStore, type StoredTenantQuota, type StoredUserQuota } from './quotas.ts';
export {
  type HistoryEntry,
  type HistoryPage,
  Transcript,
  type TranscriptMessage,
  type TurnTranscript,
} from './transcript.ts';
export {
  type CallUsageRecord,
  type TurnUsageRecord,
  USAGE_GROUPS,
  type UsageGroup,
  UsageLedger,
  type UsageQuery,
  type UsageReport,
  type UsageRow,
} from './usage-ledger.ts';

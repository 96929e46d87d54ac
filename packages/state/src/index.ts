export { createPool, migrate } from './postgres.ts';
export {
  GROUP_PATTERN,
  type Profile,
  type ProfileInput,
  ProfileStore,
  TENANT_PATTERN,
  validateProfile,
} from './profiles.ts';
export { type HistoryEntry, Transcript, type TranscriptMessage, type TurnTranscript } from './transcript.ts';

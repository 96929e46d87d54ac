export { createPool, migrate } from './postgres.ts';
export { type HistoryEntry, Transcript, type TranscriptMessage, type TurnTranscript } from './transcript.ts';

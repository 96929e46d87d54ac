export { CHARS_PER_TOKEN, HistoryStore } from './history.ts';
export { createPool, migrate } from './postgres.ts';
export { Scratchpad } from './scratchpad.ts';
export { type HistoryEntry, Transcript, type TranscriptMessage, type TurnTranscript } from './transcript.ts';

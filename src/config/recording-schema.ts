// The `recording` section: files, flushing, pauses, write errors, signing, the audit
// log, retention; encryption and object storage are in recording-store-schema.ts.
import { recordingEncryptionSchema, recordingStoreSchema, type RecordingEncryptionConfig, type RecordingStoreConfig } from './recording-store-schema.ts';

/**
 * flushIntervalMs: how often buffered audio is written and WAV headers rewritten
 * (what a kill -9 can lose); pauseMode: 'skip' leaves paused time out of the files,
 * 'silence' keeps the timeline with silence. onWriteError: a call whose recording
 * cannot be written goes on ('continue') or ends ('hangup'); minFreeBytes: calls
 * that would record are refused (503) while recording.dir has less free space.
 */
export interface RecordingConfig {
  dir: string;
  postProcess: 'none' | 'ogg' | 'mp3';
  /** ffmpeg -readrate of post-processing: at most this many times real time; 0: as fast as it can. */
  postProcessReadRate?: number;
  flushIntervalMs: number;
  pauseMode: 'skip' | 'silence';
  onWriteError: 'continue' | 'hangup';
  minFreeBytes: number;
  /** Ed25519 signing of finalized sidecars (src/recording/compliance/). keyFile null: generated in <dir>/.parley/. */
  signing: { keyFile: string | null };
  /** The append-only audit log (JSON lines, hash-chained); null: <dir>/.parley/audit.jsonl. */
  auditLog: string | null;
  /** Default retention (days; null: kept for ever) and how often expired recordings are swept. */
  retention: RetentionConfig;
  /** Encryption at rest (README "Encryption at rest"). */
  encryption?: RecordingEncryptionConfig;
  /** Upload of finalized recordings to a bucket (README "Object storage"); null: none. */
  store?: RecordingStoreConfig | null;
}

export interface RetentionConfig {
  /** Recordings are deleted this many days after they ended, unless held; null: never. A flow's record step or a rule may say otherwise. */
  days: number | null;
  /** How often the sweeper looks for expired recordings (seconds); 0: never. */
  sweepIntervalSec: number;
}

export const recordingSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['dir', 'postProcess', 'flushIntervalMs', 'pauseMode', 'onWriteError', 'minFreeBytes', 'signing', 'auditLog', 'retention'],
  properties: {
    signing: {
      type: 'object',
      additionalProperties: false,
      required: ['keyFile'],
      properties: { keyFile: { type: 'string', nullable: true, minLength: 1 } },
    },
    auditLog: { type: 'string', nullable: true, minLength: 1 },
    retention: {
      type: 'object',
      additionalProperties: false,
      required: ['days', 'sweepIntervalSec'],
      properties: {
        days: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 36500 },
        sweepIntervalSec: { type: 'number', minimum: 0, maximum: 86400 },
      },
    },
    dir: { type: 'string', minLength: 1 },
    postProcess: { type: 'string', enum: ['none', 'ogg', 'mp3'] },
    postProcessReadRate: { type: 'number', minimum: 0, maximum: 10000 },
    flushIntervalMs: { type: 'integer', minimum: 20, maximum: 1000 },
    pauseMode: { type: 'string', enum: ['skip', 'silence'] },
    onWriteError: { type: 'string', enum: ['continue', 'hangup'] },
    minFreeBytes: { type: 'integer', minimum: 0 },
    encryption: recordingEncryptionSchema,
    store: recordingStoreSchema,
  },
} as const;

export const defaultRecording: RecordingConfig = {
  dir: 'recordings',
  postProcess: 'none',
  postProcessReadRate: 0,
  flushIntervalMs: 250,
  pauseMode: 'skip',
  onWriteError: 'continue',
  minFreeBytes: 100_000_000,
  signing: { keyFile: null },
  auditLog: null,
  retention: { days: null, sweepIntervalSec: 3600 },
};

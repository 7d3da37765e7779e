// The Recorder's options and events (recorder.ts).
import type { Logger } from '../util/logger.ts';
import type { FinalizeStep } from './finalize-recording.ts';
import type { PauseMode, RecordingLabels, RecordingMetadata, TimePoint } from './metadata.ts';
import type { PostProcessor, PostProgress } from './post-processor.ts';
import type { RecordingEncryption } from './encryption/recording-encryption.ts';
import type { Recorder } from './recorder.ts';

export interface RecorderOptions {
  dir: string;
  roomId: string;
  sampleRate: number;
  pauseMode?: PauseMode;
  /** How often buffered audio is written and headers rewritten (<= 1000). */
  flushIntervalMs?: number;
  postProcess?: 'none' | 'ogg' | 'mp3';
  postProcessor?: PostProcessor;
  /** Write the stereo file (caller left, the others right); default true. */
  stereo?: boolean;
  /** Write a stem per leg; default true. Without, legs are still listed in the metadata. */
  stems?: boolean;
  /** Flow, rule and retention, written into the sidecar. */
  labels?: RecordingLabels;
  /** Run after finalization, in order (RecordingService.finalizeSteps). */
  finalizeSteps?: readonly FinalizeStep[];
  /** Awaited before the final sidecar is written (RecordingService: its finalize mark). */
  beforeFinal?: (id: string) => Promise<void>;
  /** Awaited after 'finalized' is emitted, before `finalized` resolves; must not reject (RecordingService: the mark removed). */
  afterFinalized?: (id: string) => Promise<void>;
  log: Logger;
  /** config recording.encryption: every audio file sealed under this recording's own data key. */
  encryption?: RecordingEncryption | null;
  /** The parent's hook, called once from close(). */
  onClose?: (r: Recorder) => void;
}

export type RecorderEvents = {
  legJoined: [{ legId: string; at: TimePoint }];
  legLeft: [{ legId: string; at: TimePoint }];
  /** Once, after close(): every file is complete on disk and the sidecar says `closed`. */
  closed: [RecordingMetadata];
  /** A file (WAV or the sidecar) cannot be written: once per outage and file. The call is not touched. */
  writeError: [{ file: string; error: Error }];
  /** Writes to that file succeed again; it goes on where it stopped. */
  writeResumed: [{ file: string }];
  postProgress: [PostProgress];
  /** Once, after hashes and post-processing: the sidecar is final. */
  finalized: [RecordingMetadata];
  /** A pause or mask began or ended (for the API's event stream). */
  state: [{ paused: boolean; masked: boolean }];
  error: [Error];
};

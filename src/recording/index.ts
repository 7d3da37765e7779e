// Public surface of recording for call control and the app wiring.
import type { ParleyConfig } from '../config/schema.ts';
import type { Logger } from '../util/logger.ts';
import { RecordingService } from './recording-service.ts';

export type { IdentityKind, LegInfo, PauseMode, RecordingMetadata, TimePoint } from './metadata.ts';
export type { PostProgress, PostResult } from './post-processor.ts';
export { Recorder, type RecorderEvents } from './recorder.ts';
export { RecordingService, type StartRecordingOptions } from './recording-service.ts';

/** The service configured by `recording` (dir, postProcess, flushIntervalMs, pauseMode). */
export function createRecordingService(config: ParleyConfig['recording'], log: Logger): RecordingService {
  return new RecordingService({
    dir: config.dir,
    postProcess: config.postProcess,
    flushIntervalMs: config.flushIntervalMs,
    pauseMode: config.pauseMode,
    onWriteError: config.onWriteError,
    minFreeBytes: config.minFreeBytes,
    log,
  });
}

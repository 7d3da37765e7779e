// A recording as a kill -9 leaves it, and its repair at the next start, for the tests of
// recovery (test/unit/recording/stem-listed-first.test.ts, recover-unnamed-stems.test.ts):
// a live recording with leg a (440 Hz) whose first 600 ms are on disk, the folder's WAVs
// and sidecar copied as they are at a moment, and a RecordingService with compliance
// (signing) that repairs such a copy.
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ComplianceService } from '../../src/recording/compliance/compliance-service.ts';
import type { Recorder } from '../../src/recording/recorder.ts';
import { RecordingService } from '../../src/recording/recording-service.ts';
import type { RecoveredRecording } from '../../src/recording/recover-recordings.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { ToneRoom } from './mix-ticks.ts';
import { waitFor } from './wait.ts';

/** A recording in `live` with leg a's 440 Hz tone, once its first 600 ms (stem and mix) are on disk. Close `svc` when done. */
export async function liveToneRecording(live: string, roomId: string): Promise<{ svc: RecordingService; rec: Recorder; room: ToneRoom }> {
  const svc = new RecordingService({ dir: live, postProcess: 'none', log: silentLogger() });
  const rec = svc.createRecorder({ roomId, sampleRate: 16000 });
  const room = new ToneRoom(16000);
  rec.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
  room.legs.set('a', 440);
  room.feed(rec, 600);
  const stemA = join(live, rec.metadata.legs[0]!.stems[0]!.file);
  const mixFile = join(live, rec.metadata.mix.file);
  await waitFor("leg a's 600 ms on disk", () => existsSync(stemA) && statSync(mixFile).size >= 44 + 600 * 32);
  return { svc, rec, room };
}

/** The folder's WAVs and sidecars copied to `to`: as a kill -9 now would leave them. */
export function snapshotRecording(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) if (f.endsWith('.wav') || f.endsWith('.json')) copyFileSync(join(from, f), join(to, f));
}

/** The next start's repair of the recordings in `dir`, signed (compliance); close `again` and `compliance` when done. */
export async function repairSigned(dir: string): Promise<{ again: RecordingService; compliance: ComplianceService; found: RecoveredRecording | undefined }> {
  const again = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
  const compliance = await ComplianceService.start({ dir, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log: silentLogger() });
  compliance.attach(again);
  const [found] = await again.recoverInterrupted();
  await compliance.settled();
  return { again, compliance, found };
}

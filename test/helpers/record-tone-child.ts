// Child process for the kill -9 test: records a steady 440 Hz leg in real time
// (ticks are due by a monotonic clock, as in the mixer) until it is killed.
// stdout: JSON lines {event:'started', mix, meta} then {event:'progress', ms} twice a second
// (ms: the audio written so far, by the ticks' count). With REPORT_EVERY_TICK=1 in the
// environment, also {event:'sent', ms} after every pass that wrote ticks (the kill -9 helper's
// count of what was sent when it stopped the process).
// With NOTICE_AT_MS=N in the environment, a notice ('mid-recording') is marked once N ms are written
// (a change to what the sidecar records, which reaches the disk within a second).
// With a second argument N, closes the recording after N ms, waits for 'finalized'
// and exits (a whole recording's life in one process, e.g. under strace).
import { FRAME_MS } from '../../src/mixer/frames.ts';
import { RecordingService } from '../../src/recording/recording-service.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { parseMasterKey } from '../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../src/recording/encryption/recording-encryption.ts';
import { ToneRoom } from './mix-ticks.ts';

const dir = process.argv[2];
if (!dir) throw new Error('usage: record-tone-child.ts DIR [CLOSE_AFTER_MS]');
const closeAfterMs = process.argv[3] === undefined ? null : Number(process.argv[3]);
// TEST_MASTER_KEY (64 hex digits): the recording is encrypted at rest.
const key = process.env.TEST_MASTER_KEY;
const encryption = key ? new RecordingEncryption(parseMasterKey(Buffer.from(key), 'TEST_MASTER_KEY')) : null;
const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 250, encryption, log: silentLogger() });
const rec = svc.createRecorder({ roomId: 'kill9', sampleRate: 16000 });
rec.addLeg('a', { uri: 'sip:alice@example.com', callId: 'kill9-call', role: 'caller' });
const room = new ToneRoom(16000);
room.legs.set('a', 440);

const everyTick = process.env.REPORT_EVERY_TICK === '1';
const noticeAtMs = process.env.NOTICE_AT_MS === undefined ? null : Number(process.env.NOTICE_AT_MS);
const t0 = performance.now();
let written = 0;
let lastReport = 0;
let lastSent = 0;
const say = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
const timer = setInterval(() => {
  const due = Math.floor((performance.now() - t0) / FRAME_MS) + 1;
  while (written < due) {
    rec.writeTick(room.next());
    written++;
    if (noticeAtMs !== null && written * FRAME_MS === noticeAtMs) rec.markNotice('mid-recording');
  }
  if (written * FRAME_MS - lastReport >= 500) {
    lastReport = written * FRAME_MS;
    say({ event: 'progress', ms: lastReport });
  } else if (everyTick && written * FRAME_MS > lastSent) {
    say({ event: 'sent', ms: written * FRAME_MS });
  }
  lastSent = written * FRAME_MS;
}, 5);
say({ event: 'started', dir, files: rec.files });
if (closeAfterMs !== null) {
  setTimeout(() => {
    clearInterval(timer);
    rec.close();
    rec.finalized.then(
      () => {
        say({ event: 'finalized', ms: written * FRAME_MS });
        svc.close();
      },
      (err: unknown) => say({ event: 'failed', error: String(err) }),
    );
  }, closeAfterMs);
}

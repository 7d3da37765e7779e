// A kill -9 while an encrypted recording's key file was written (or rotated) leaves
// `<id>.key.tmp` (writeKeyFile: temp, fsync, rename); nothing removed it. The next start's
// repair now does, and leaves alone the temp of a recording this process records and one
// written since this process started (`parley recordings rotate-key` may be running).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseMasterKey } from '../../../src/recording/encryption/master-key.ts';
import { RecordingEncryption } from '../../../src/recording/encryption/recording-encryption.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { waitFor } from '../../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-keytmp-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('key file temps a kill left', () => {
  it("are removed at the next start; this process's recording's and a fresh one are kept", async (t) => {
    const encryption = new RecordingEncryption(parseMasterKey(randomBytes(32), 'test'));
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    // A recording of the process before (its service closed), then this process's.
    const before = new RecordingService({ dir, postProcess: 'none', encryption, log: silentLogger() });
    const done = before.createRecorder({ roomId: 'done', sampleRate: 16000 });
    done.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
    room.feed(done, 300);
    done.close();
    await done.finalized;
    before.close();
    const svc = new RecordingService({ dir, postProcess: 'none', encryption, log: silentLogger() });
    t.after(() => svc.close());
    const live = svc.createRecorder({ roomId: 'live', sampleRate: 16000 });
    live.addLeg('a', { uri: 'sip:alice@example.com', role: 'caller' });
    room.feed(live, 300);
    await waitFor("the live recording's key file", () => existsSync(join(dir, `${live.id}.key`)));
    const key = readFileSync(join(dir, `${done.id}.key`));
    // As a kill during a write left them, an hour ago (a partial JSON), and one written just now.
    const left = join(dir, `${done.id}.key.tmp`);
    const ours = join(dir, `${live.id}.key.tmp`);
    const fresh = join(dir, 'other-20261207T000000Z-abcdef.key.tmp');
    const past = new Date(Date.now() - 3_600_000);
    for (const f of [left, ours, fresh]) writeFileSync(f, '{"version": 1, "scheme": "aes-2');
    for (const f of [left, ours]) utimesSync(f, past, past);

    await svc.recoverInterrupted();
    assert.equal(existsSync(left), false, 'the temp a stopped process left is removed');
    assert.ok(existsSync(ours), "the temp of this process's recording is left alone");
    assert.ok(existsSync(fresh), 'a temp written since this process started is left alone');
    assert.ok(readFileSync(join(dir, `${done.id}.key`)).equals(key), 'the key file itself is untouched');
    assert.equal((await encryption.dataKey(dir, done.id)).length, 32, 'and still unwraps');
    live.close();
    await live.finalized;
  });
});

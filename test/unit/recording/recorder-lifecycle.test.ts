import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, mock } from 'node:test';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { ComplianceService } from '../../../src/recording/compliance/compliance-service.ts';
import { RecordingService } from '../../../src/recording/recording-service.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { readWavFile, rms } from '../../helpers/audio-analysis.ts';
import { ToneRoom } from '../../helpers/mix-ticks.ts';
import { waitFor } from '../../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-reclife-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sidecar = (id: string): RecordingMetadata => JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')) as RecordingMetadata;
/** The sidecar once it passes `ok` (it is rewritten at most once a second). */
const sidecarWhen = (id: string, ok: (m: RecordingMetadata) => boolean): Promise<RecordingMetadata> =>
  waitFor(`the sidecar of ${id}`, () => {
    try {
      const m = sidecar(id);
      return ok(m) ? m : undefined;
    } catch {
      return undefined; // not written yet
    }
  }, 10_000);

describe('Recorder lifecycle', () => {
  it('close() is idempotent: one closed, one finalized; later calls and ticks change nothing', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'life', sampleRate: 16000 });
    assert.equal(svc.open.size, 1);
    const counts = { closed: 0, finalized: 0 };
    rec.on('closed', () => counts.closed++);
    rec.on('finalized', () => counts.finalized++);
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 200);
    rec.close();
    assert.equal(svc.open.size, 0, 'the parent forgets a closed recorder');
    assert.equal(counts.closed, 0, "'closed' waits until the files are complete");
    const closed = await rec.whenClosed;
    assert.equal(counts.closed, 1);
    assert.equal(closed.state, 'closed');
    assert.equal(sidecar(rec.id).state, 'closed', "the sidecar says 'closed' when 'closed' fires");
    const size = statSync(join(dir, rec.metadata.mix.file)).size;
    assert.equal(size, 44 + 200 * 32, 'every appended frame is in the file when closed fires');
    rec.close();
    room.feed(rec, 200);
    rec.pause();
    rec.addLeg('late', {});
    assert.equal(statSync(join(dir, rec.metadata.mix.file)).size, size);
    await rec.finalized;
    assert.deepEqual(counts, { closed: 1, finalized: 1 });
    assert.equal(sidecar(rec.id).legs.length, 1);
    svc.close();
    svc.close();
    assert.throws(() => svc.createRecorder({ roomId: 'x', sampleRate: 16000 }), /closed/);
  });

  it('the sidecar follows leg changes while recording (its flush, not the close); the caller is the role caller, else the first leg', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'legs', sampleRate: 16000 });
    rec.addLeg('agent', { uri: 'sip:agent@x' });
    assert.equal(rec.metadata.stereo!.left, 'agent');
    await sidecarWhen(rec.id, (m) => m.stereo?.left === 'agent');
    rec.addLeg('cust', { uri: 'sip:cust@x', identity: 'impersonated' });
    assert.equal(rec.metadata.stereo!.left, 'agent');
    rec.updateLeg('cust', { role: 'caller', callId: 'c-1', displayName: 'Customer' });
    const m = await sidecarWhen(rec.id, (x) => x.stereo?.left === 'cust');
    // Written by the periodic flush of a live recording (at most once a second), not by a close.
    assert.equal(m.state, 'recording', 'the recording is still open');
    assert.equal(rec.metadata.state, 'recording');
    assert.equal(m.stereo!.left, 'cust');
    const cust = m.legs.find((l) => l.id === 'cust')!;
    assert.deepEqual([cust.identity, cust.callId, cust.displayName, cust.role], ['impersonated', 'c-1', 'Customer', 'caller']);
    assert.equal(cust.joins[0].roomMs, null, 'joined before the first tick');
    rec.close();
    await rec.finalized;
    svc.close();
  });

  it('lengths alone do not rewrite the sidecar each second (rec.metadata has them); a change is on disk within a second', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 250, log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'progress', sampleRate: 16000 });
    rec.addLeg('a', { uri: 'sip:a@x' });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    room.feed(rec, 1000);
    // The join is written at once, the first tick's start (startRoomMs) within the second after.
    const first = await sidecarWhen(rec.id, (m) => m.legs.length === 1 && m.startRoomMs !== null);
    room.feed(rec, 2000);
    await new Promise((r) => setTimeout(r, 1300)); // five flushes, one of them a second after that write
    const disk = sidecar(rec.id);
    assert.equal(disk.updatedAt, first.updatedAt, 'not rewritten for its lengths alone');
    assert.equal(disk.mix.durationMs, first.mix.durationMs);
    assert.equal(rec.metadata.mix.durationMs, 3000, "the recorder's metadata has the lengths recorded so far");
    assert.equal(rec.metadata.legs[0]!.stems[0]!.durationMs, 3000);
    rec.markNotice('mid');
    const marked = await sidecarWhen(rec.id, (m) => m.notices.length === 1);
    assert.equal(marked.notices[0]!.fileMs, 3000);
    assert.equal(marked.mix.durationMs, 3000, 'the rewrite for the notice carries the lengths too');
    rec.close();
    await rec.finalized;
    svc.close();
  });

  it('a leg that joins (a callee answering, a SIPREC stream added), a SIPREC update and a notice are in the sidecar on disk at once, not a second later: a kill -9 right after an answer left stems no sidecar named', async () => {
    // The clock of the once-a-second rewrite held still: only a write made for the join itself can name the stem.
    const clock = mock.method(performance, 'now', () => 1_000_000);
    const svc = new RecordingService({ dir, postProcess: 'none', flushIntervalMs: 50, log: silentLogger() });
    try {
      const rec = svc.createRecorder({ roomId: 'join-now', sampleRate: 16000 });
      await sidecarWhen(rec.id, (m) => m.state === 'recording');
      rec.addLeg('callee', { uri: 'sip:callee@example.com' });
      const m = await sidecarWhen(rec.id, (x) => x.legs.length === 1);
      assert.equal(m.legs[0]!.uri, 'sip:callee@example.com');
      assert.match(m.legs[0]!.stems[0]!.file, /\.leg1-callee\.wav$/);
      rec.setSiprec({ callId: 'c', sessionId: 's', groupId: null, sipSessionIds: [], dialect: null, participants: [], streams: [], metadataVersions: [{ file: `${rec.id}.metadata-2.xml`, at: new Date().toISOString(), method: 'INVITE', bytes: 1, problem: null, dialect: null, dataMode: null }], updates: [], linked: [], problems: [] });
      const s = await sidecarWhen(rec.id, (x) => x.siprec !== undefined);
      assert.equal(s.siprec!.metadataVersions[0]!.file, `${rec.id}.metadata-2.xml`);
      // A notice starting (record-notice: the proof the party was told) is written at once too.
      rec.markNotice('record-notice', 'callee');
      const n = await sidecarWhen(rec.id, (x) => x.notices.length === 1);
      assert.deepEqual([n.notices[0]!.prompt, n.notices[0]!.leg], ['record-notice', 'callee']);
      rec.close();
      await rec.finalized;
    } finally {
      clock.mock.restore();
      svc.close();
    }
  });

  it('pads a frame of the wrong length instead of corrupting the timeline', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'short', sampleRate: 16000 });
    rec.writeTick({ timeMs: 0, mix: new Int16Array(100).fill(5), legs: new Map([['a', new Int16Array(400).fill(7)]]) });
    rec.close();
    const m = await rec.finalized;
    assert.equal(m.mix.durationMs, 20);
    assert.equal(m.legs[0].stems[0].durationMs, 20);
    svc.close();
  });

  it('stereo: false and stems: false write the mix alone; the legs are still in the metadata', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'mix-only', sampleRate: 16000, stereo: false, stems: false });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    rec.addLeg('a', { uri: 'sip:a@x', role: 'caller' });
    room.feed(rec, 1000);
    rec.removeLeg('a');
    rec.addLeg('a', {});
    room.feed(rec, 1000);
    rec.close();
    const m = await rec.finalized;
    assert.equal(m.stereo, null);
    assert.deepEqual(rec.files, [m.mix.file, `${rec.id}.json`]);
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith(rec.id)).sort(), [`${rec.id}.json`, m.mix.file].sort());
    assert.equal(m.mix.durationMs, 2000);
    assert.ok(m.mix.sha256, 'the mix is hashed');
    const a = m.legs.find((l) => l.id === 'a')!;
    assert.deepEqual([a.uri, a.stems.length, a.joins.length, a.leaves.length], ['sip:a@x', 0, 2, 1]);
    svc.close();
  });

  it('ticks the room never handed over (a stalled thread) are written as silence: a mask lasts as long in the file as in the room', async () => {
    const svc = new RecordingService({ dir, postProcess: 'none', log: silentLogger() });
    const rec = svc.createRecorder({ roomId: 'gap', sampleRate: 16000 });
    const room = new ToneRoom(16000);
    room.legs.set('a', 440);
    rec.addLeg('a', { role: 'caller' });
    const skip = (ms: number): void => {
      for (let i = 0; i < ms / 20; i++) room.next(); // the room's clock moved on, the recorder got nothing
    };
    room.feed(rec, 500);
    rec.mask();
    room.feed(rec, 200);
    skip(200);
    room.feed(rec, 200);
    rec.unmask();
    room.feed(rec, 300);
    skip(100);
    room.feed(rec, 300);
    rec.close();
    const m = await rec.finalized;
    assert.equal(m.mix.durationMs, 1800, 'the files are as long as the room time');
    assert.equal(m.stereo!.durationMs, 1800);
    assert.equal(m.legs[0].stems[0].durationMs, 1800);
    const mask = m.masks[0];
    assert.deepEqual([mask.start.roomMs, mask.end?.roomMs, mask.start.fileMs, mask.end?.fileMs], [500, 1100, 500, 1100]);
    const mix = readWavFile(join(dir, m.mix.file)).samples;
    const at = (ms: number): number => (ms * 16000) / 1000;
    assert.ok(rms(mix, at(500), at(600)) === 0, 'the mask, gap included, is silence');
    assert.ok(rms(mix, at(1100), at(300)) > 0.1 && rms(mix, at(1500), at(300)) > 0.1, 'the tone around the gap');
    assert.equal(rms(mix, at(1400), at(100)), 0, 'the gap is silence');
    svc.close();
  });

  it('metadataNow is the live sidecar, not a copy; compliance and the service read it so: the sidecar is cloned only for the closed and finalized events', async () => {
    const d = join(dir, 'clones');
    const svc = new RecordingService({ dir: d, postProcess: 'none', log: silentLogger() });
    const compliance = await ComplianceService.start({ dir: d, keyFile: null, auditLog: null, retention: { days: null, sweepIntervalSec: 0 }, log: silentLogger() });
    compliance.attach(svc);
    const original = globalThis.structuredClone;
    let clones = 0;
    globalThis.structuredClone = ((value: unknown, options?: Parameters<typeof structuredClone>[1]) => {
      clones++;
      return original(value, options);
    }) as typeof structuredClone;
    try {
      const rec = svc.createRecorder({ roomId: 'clones', sampleRate: 16000 });
      rec.addLeg('a', { uri: 'sip:alice@example.com', callId: 'cid-clones', role: 'caller' });
      const room = new ToneRoom(16000);
      room.legs.set('a', 440);
      room.feed(rec, 200);
      rec.close();
      const meta = await rec.finalized;
      assert.equal(meta.state, 'finalized');
      assert.equal(clones, 2, 'one copy for closed, one for finalized');
      assert.equal(rec.metadataNow, rec.metadataNow);
      assert.notEqual(rec.metadata, rec.metadataNow);
      assert.equal((await compliance.verify(rec.id)).recording.ok, true);
    } finally {
      globalThis.structuredClone = original;
      compliance.close();
    }
  });
});

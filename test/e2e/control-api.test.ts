// The control API against a running Parley with a real call in progress: a SIPp
// caller (440 Hz) → Parley (rule chain → api-call flow: answer, record, bridge)
// → a SIPp callee (1000 Hz), each with a Node RTP peer. The test lists the call,
// pauses and resumes its recording, mutes and unmutes the caller's leg and plays
// a prompt to the caller alone, all checked by audio, then hangs the call up
// through the API; the event stream sees it all in order and a webhook receiver
// that fails once gets the retry, signed.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../helpers/api-client.ts';
import { readWavFile, rms } from '../helpers/audio-analysis.ts';
import { heardAfter, toneAndLevel as tone, toneByPacket } from '../helpers/peer-hearing.ts';
import { waitFor } from '../helpers/wait.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import type { RtpPeer } from '../helpers/rtp-peer.ts';
import { startCallee, startCaller, sippOk, type Peer } from './helpers.ts';

const CALLER_HZ = 440;
const CALLEE_HZ = 1000;
const HOOK_SECRET = 'hook-secret';

const flows = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: api-call }]
flows:
  api-call:
    - answer
    - record: { action: start }
    - bridge: { ringTimeout: 10 }
`;

interface Hook {
  attempt: number;
  event: string;
  signature: string;
  body: string;
  status: number;
}

/** Waits until `peer` received `n` more packets than `from` (20 ms each). */
async function packetsAfter(peer: RtpPeer, from: number, n: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (peer.received.length < from + n) {
    if (Date.now() > until) throw new Error(`no RTP: ${peer.received.length - from} of ${n} packets`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The tone's level in the peers' streams (amplitude 8000 of full scale). */
const TONE_LEVEL = 8000 / 32768;

/** Nothing but the tone in (nearly) every packet: 2 in 50 may carry more (G.711 noise alone leaves 0.002). */
function assertOnlyTone(packets: { residual: number }[], what: string): void {
  const residue = packets.map((p) => p.residual).sort((x, y) => x - y);
  const p95 = residue[Math.floor(0.95 * residue.length)]!;
  assert.ok(p95 < 0.005, `${what}: other energy ${p95.toFixed(4)} in the 95th-percentile packet (${residue.slice(-5).map((r) => r.toFixed(4)).join(' ')} the most)`);
}

describe('control API with a real call (SIPp caller and callee, audio checked)', () => {
  let parley: RunningParley;
  let base: string;
  let caller: Peer;
  let callee: Peer;
  let ws: WebSocket;
  let hookServer: Server;
  const hooks: Hook[] = [];
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const events: any[] = [];
  let callId = '';
  let cliConfig = '';
  // Asynchronous: Parley runs in this process and must keep answering while the CLI waits.
  const cli = (args: string[]): Promise<{ status: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile('bin/parley', [...args, '--config', cliConfig], { encoding: 'utf8', timeout: 20_000 }, (err, stdout, stderr) =>
        resolve({ status: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  before(async () => {
    // A webhook receiver that refuses the first delivery of each event.
    const seen = new Map<string, number>();
    hookServer = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const delivery = String(req.headers['x-parley-delivery']);
        const n = (seen.get(delivery) ?? 0) + 1;
        seen.set(delivery, n);
        const status = n === 1 ? 503 : 204;
        hooks.push({ attempt: Number(req.headers['x-parley-attempt']), event: String(req.headers['x-parley-event']), signature: String(req.headers['x-parley-signature']), body, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
    const state = join(mkdtempSync(join(tmpdir(), 'parley-api-e2e-')), 'rules.json');
    parley = await startParley(
      flows +
        apiYaml(state, `  webhooks: [{ url: "${hookUrl}", secret: ${HOOK_SECRET} }]\n  webhookRetryBaseMs: 100\n`),
      { pauseMode: 'silence' },
    );
    base = apiBase(parley);
    cliConfig = join(mkdtempSync(join(tmpdir(), 'parley-cli-')), 'parley.yaml');
    writeFileSync(cliConfig, `api: { enabled: true, port: ${new URL(base).port}, token: ${TEST_TOKEN} }\nrecording: { dir: ${parley.recordingDir} }\n`);
    ws = new WebSocket(`${base.replace('http', 'ws')}/events?token=${TEST_TOKEN}`);
    ws.on('message', (m: WebSocket.RawData) => events.push(JSON.parse(m.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    // The call lasts from here to the hangup test: 20 s on a quiet machine, over 30 s (SIPp's default here) on a busy one.
    callee = await startCallee('callee.xml', CALLEE_HZ, [], undefined, 120);
    caller = await startCaller(parley, 'caller-wait-bye.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: CALLER_HZ, timeoutS: 120 });
  });

  after(async () => {
    ws?.terminate();
    caller?.kill();
    callee?.kill();
    await caller?.rtp.close();
    await callee?.rtp.close();
    await parley?.stop();
    // Keep-alive connections from the webhook deliveries would hold close() open.
    hookServer?.closeAllConnections();
    await new Promise((r) => hookServer?.close(r));
  });

  it('lists the call with its legs, flow and original To', async () => {
    const list = await waitFor('the call in GET /calls', async () => {
      const r = await call(base, 'GET', '/calls');
      const c = r.body?.[0];
      return c && c.legs.length === 2 ? r.body : undefined;
    });
    assert.equal(list.length, 1);
    callId = list[0].id;
    const one = await call(base, 'GET', `/calls/${encodeURIComponent(callId)}`);
    assert.equal(one.status, 200);
    assert.equal(one.body.flow, 'api-call');
    assert.equal(one.body.originalTo.uri, `sip:bob@127.0.0.1:${callee.port}`);
    assert.match(one.body.from.uri, /^sip:alice@127\.0\.0\.1/);
    assert.deepEqual(one.body.legs.map((l: { id: string }) => l.id).sort(), ['callee', 'caller']);
    assert.ok(one.body.recording?.id, 'the flow records');
    // Both hear each other before the API touches anything.
    const heard = await heardAfter(callee.rtp, callee.rtp.received.length);
    assert.ok(tone(heard, CALLER_HZ).share > 0.6, `callee hears the caller: ${tone(heard, CALLER_HZ).share.toFixed(3)}`);
  });

  it('`parley calls` and `parley calls show` list it from the command line', async () => {
    // Three processes at once (each a node start-up): they only read.
    const [r, show, rooms] = await Promise.all([cli(['calls']), cli(['calls', 'show', callId]), cli(['rooms'])]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^CALL-ID\s+FLOW\s+AGE/m);
    assert.ok(r.stdout.includes(callId) && r.stdout.includes('api-call') && r.stdout.includes(`sip:bob@127.0.0.1:${callee.port}`), r.stdout);
    assert.equal(JSON.parse(show.stdout).id, callId);
    assert.equal(rooms.stdout.trim(), 'no rooms');
  });

  it('DTMF (RFC 4733) and talking from the caller and the callee reach the event stream', async () => {
    caller.rtp.queueDtmf('7');
    const e = await waitFor('a dtmf event', () => events.find((x) => x.type === 'dtmf'));
    assert.deepEqual([e.data.callId, e.data.leg, e.data.digit], [callId, 'caller', '7']);
    callee.rtp.queueDtmf('9');
    const c = await waitFor('the callee dtmf event', () => events.find((x) => x.type === 'dtmf' && x.data.leg === 'callee'));
    assert.deepEqual([c.data.callId, c.data.digit], [callId, '9']);
    for (const leg of ['caller', 'callee']) {
      const t = await waitFor(`${leg} talking`, () => events.find((x) => x.type === 'talking' && x.data.leg === leg && x.data.talking === true));
      assert.equal(t.data.callId, callId);
    }
  });

  it('shows the call in the metrics', async () => {
    const r = await call(base, 'GET', '/metrics');
    assert.match(r.text, /^parley_calls_active 1$/m);
    assert.match(r.text, /^parley_calls_total 1$/m);
    assert.match(r.text, /^parley_legs 2$/m);
    assert.match(r.text, /^parley_dtmf_digits_total 2$/m);
    assert.match(r.text, /^parley_leg_rtp_jitter_ms\{room="call-[^"]+",leg="caller"\} [\d.]+$/m);
    assert.match(r.text, /^parley_mixer_late_ticks\{room="call-[^"]+"\} \d+$/m);
    // The bridged call is forwarded leg to leg: packets forwarded, a switch to forwarding, frames encoded counted per leg.
    assert.match(r.text, /^parley_room_forwarded_packets\{room="call-[^"]+"\} [1-9]\d*$/m);
    assert.match(r.text, /^parley_room_mode_switches\{room="call-[^"]+",to="forward"\} [1-9]\d*$/m);
    assert.match(r.text, /^parley_leg_encoded_frames\{room="call-[^"]+",leg="callee"\} \d+$/m);
    assert.match(r.text, /^parley_rtp_ports_in_use 2$/m);
    assert.match(r.text, /^parley_leg_rtp_dropped_packets\{room="call-[^"]+",leg="caller",cause="wrong_source"\} 0$/m);
  });

  it('pauses and resumes the recording', async () => {
    const id = encodeURIComponent(callId);
    let r = await call(base, 'POST', `/calls/${id}/recording/pause`);
    assert.equal(r.status, 200);
    assert.equal(r.body.paused, true);
    await packetsAfter(callee.rtp, callee.rtp.received.length, 50);
    r = await call(base, 'POST', `/calls/${id}/recording/resume`);
    assert.equal(r.body.paused, false);
    await packetsAfter(callee.rtp, callee.rtp.received.length, 25);
  });

  it('masks and unmasks the recording (card-number capture)', async () => {
    const id = encodeURIComponent(callId);
    let r = await call(base, 'POST', `/calls/${id}/recording/mask`);
    assert.equal(r.status, 200);
    assert.equal(r.body.masked, true);
    assert.equal((await call(base, 'GET', `/calls/${id}`)).body.recording.masked, true);
    await packetsAfter(callee.rtp, callee.rtp.received.length, 50);
    r = await call(base, 'POST', `/calls/${id}/recording/unmask`);
    assert.equal(r.body.masked, false);
    await packetsAfter(callee.rtp, callee.rtp.received.length, 25);
  });

  it('mutes the caller: the callee stops hearing the caller; unmute brings it back', async () => {
    const id = encodeURIComponent(callId);
    let r = await call(base, 'POST', `/calls/${id}/mute`, { leg: 'caller' });
    assert.equal(r.status, 200);
    let heard = await heardAfter(callee.rtp, callee.rtp.received.length);
    const muted = tone(heard, CALLER_HZ);
    assert.ok(muted.rms < 0.005, `muted: the callee hears silence: rms ${muted.rms.toFixed(4)}`);
    // The caller still hears the callee.
    const callerHeard = await heardAfter(caller.rtp, caller.rtp.received.length);
    assert.ok(tone(callerHeard, CALLEE_HZ).share > 0.6, 'caller still hears the callee while muted');
    assert.equal((await call(base, 'GET', `/calls/${id}`)).body.legs.find((l: { id: string }) => l.id === 'caller').muted, true);
    r = await call(base, 'POST', `/calls/${id}/unmute`, { leg: 'caller' });
    assert.equal(r.status, 200);
    heard = await heardAfter(callee.rtp, callee.rtp.received.length);
    assert.ok(tone(heard, CALLER_HZ).share > 0.6, `unmuted: caller tone share ${tone(heard, CALLER_HZ).share.toFixed(3)}`);
    r = await call(base, 'POST', `/calls/${id}/mute`, { leg: 'nobody' });
    assert.equal(r.status, 404);
  });

  it('a prompt that is not in the prompts folder is refused with 404 naming body.prompt; nothing plays', async () => {
    const id = encodeURIComponent(callId);
    const c0 = caller.rtp.received.length;
    const r = await call(base, 'POST', `/calls/${id}/play`, { prompt: 'no-such-prompt', target: 'caller' });
    assert.equal(r.status, 404);
    assert.equal(r.body.field, 'body.prompt');
    assert.match(r.body.message, /no-such-prompt/);
    assert.equal((await call(base, 'POST', `/calls/${id}/play/stop`)).body.stopped, 0, 'no player was started');
    assertOnlyTone(toneByPacket(await heardAfter(caller.rtp, c0), CALLEE_HZ), 'the caller hears the callee alone');
  });

  it('plays a prompt to the caller alone', async () => {
    const id = encodeURIComponent(callId);
    const c0 = caller.rtp.received.length;
    const b0 = callee.rtp.received.length;
    const r = await call(base, 'POST', `/calls/${id}/play`, { prompt: 'record-notice', target: 'caller' });
    assert.equal(r.status, 202);
    const atCaller = tone(await heardAfter(caller.rtp, c0), CALLEE_HZ);
    assert.ok(atCaller.peakOther > 0.03, `the caller hears the prompt over the callee's tone: other energy ${atCaller.peakOther.toFixed(4)}`);
    // While the prompt plays the call is mixed, in real time: when this loaded process
    // stalls the caller's sender, the callee gets silence or a concealed frame for the
    // frames not sent (forwarded, nothing is missing). Judged packet by packet, those
    // leave no residue beside the caller's tone; the prompt would, in every packet.
    const atCallee = toneByPacket(await heardAfter(callee.rtp, b0), CALLER_HZ);
    assertOnlyTone(atCallee, 'the callee hears none of the prompt');
    const full = atCallee.filter((p) => p.amplitude > 0.8 * TONE_LEVEL).length;
    assert.ok(full >= 10, `the callee hears the caller: ${full} of ${atCallee.length} packets carry the caller's tone`);
    const stop = await call(base, 'POST', `/calls/${id}/play/stop`);
    assert.equal(stop.body.stopped, 1);
    assertOnlyTone(toneByPacket(await heardAfter(caller.rtp, caller.rtp.received.length), CALLEE_HZ), 'prompt stopped: the caller hears the callee alone');
  });

  it('`parley calls hangup` hangs the call up: both SIPp sides get a BYE and the call is gone', async () => {
    const id = encodeURIComponent(callId);
    const r = await cli(['calls', 'hangup', callId]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), `hung up ${callId}`);
    sippOk(await caller.done, 'caller');
    sippOk(await callee.done, 'callee');
    assert.equal((await call(base, 'GET', `/calls/${id}`)).status, 404);
  });

  it('the recording shows the pause and the mask in its metadata and as silence in the audio', async () => {
    const saved = await waitFor('recording.saved', () => events.find((e) => e.type === 'recording.saved'));
    const meta = (await call(base, 'GET', `/recordings/${saved.data.id}`)).body;
    assert.equal(meta.pauses.length, 1);
    const p = meta.pauses[0];
    const pausedMs = p.end.roomMs - p.start.roomMs;
    // At least the 50 packets (1 s) the test waited; how much longer is the machine's speed. That it
    // ended where the API resumed it (not at the hangup) is the order of the events and the audio after it.
    assert.ok(pausedMs > 700, `paused ${pausedMs} ms`);
    const states = events
      .filter((e) => e.type === 'recording.state' && e.data.id === saved.data.id && !e.data.closed)
      .map((e) => `${e.data.paused ? 'paused' : 'recording'}${e.data.masked ? ' masked' : ''}`);
    assert.deepEqual(states, ['paused', 'recording', 'recording masked', 'recording'], 'pause, resume, mask, unmask: in that order, once each');
    const file = await fetch(`${base}/recordings/${saved.data.id}/files/${meta.mix.file}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    assert.equal(file.status, 200);
    const wavPath = join(parley.recordingDir, meta.mix.file);
    const bytes = Buffer.from(await file.arrayBuffer());
    assert.ok(bytes.equals(await import('node:fs').then((f) => f.readFileSync(wavPath))), 'downloaded the mix as on disk');
    const mix = readWavFile(wavPath);
    const at = (ms: number): number => Math.round((ms * mix.sampleRate) / 1000);
    const gap = rms(mix.samples, at(p.start.fileMs + 60), at(pausedMs - 120));
    const before = rms(mix.samples, at(p.start.fileMs - 600), at(500));
    const afterPause = rms(mix.samples, at(p.end.fileMs + 100), at(500));
    assert.ok(gap < 0.002, `silence while paused: rms ${gap.toFixed(4)} (paused ${pausedMs} ms of the room, ${p.end.fileMs - p.start.fileMs} ms of the file)`);
    assert.ok(before > 0.05 && afterPause > 0.05, `audio before (${before.toFixed(3)}) and after (${afterPause.toFixed(3)}) the pause`);
    // A mask keeps the timeline (its length stays in the file) but holds only silence.
    assert.equal(meta.masks.length, 1);
    const m = meta.masks[0];
    const maskedMs = m.end.fileMs - m.start.fileMs;
    assert.ok(maskedMs > 700, `masked ${maskedMs} ms of the file`);
    assert.ok(p.end.roomMs <= m.start.roomMs && m.end.fileMs < meta.mix.durationMs, `the mask (${m.start.roomMs}..${m.end.roomMs} ms) after the pause, ended before the recording (${meta.mix.durationMs} ms)`);
    assert.ok(Math.abs(maskedMs - (m.end.roomMs - m.start.roomMs)) < 60, `a mask takes as long in the file (${maskedMs} ms) as in the room (${m.end.roomMs - m.start.roomMs} ms)`);
    const masked = rms(mix.samples, at(m.start.fileMs + 60), at(maskedMs - 120));
    const afterMask = rms(mix.samples, at(m.end.fileMs + 100), at(400));
    assert.ok(masked < 0.002, `silence while masked: rms ${masked.toFixed(4)}`);
    assert.ok(afterMask > 0.05, `audio after the mask: rms ${afterMask.toFixed(3)}`);
    // parley_recording_bytes_total counts the saved files' sizes (read in one call to the recording I/O thread).
    const fs = await import('node:fs');
    const onDisk = (saved.data.files as string[]).reduce((sum, f) => sum + fs.statSync(join(parley.recordingDir, f)).size, 0);
    const counted = await waitFor('parley_recording_bytes_total', async () => {
      const n = Number(/^parley_recording_bytes_total (\d+)/m.exec((await call(base, 'GET', '/metrics')).text)?.[1] ?? 0);
      return n > 0 ? n : undefined;
    });
    assert.equal(counted, onDisk);
  });

  it('`parley recordings` lists the recording and downloads its mix', async () => {
    const r = await cli(['recordings', '--json']);
    assert.equal(r.status, 0, r.stderr);
    const [rec] = JSON.parse(r.stdout);
    assert.ok(rec.files.some((f: string) => f.endsWith('.wav')));
    const out = join(mkdtempSync(join(tmpdir(), 'parley-dl-')), 'mix.wav');
    const mixFile = rec.files.find((f: string) => f.includes('mix'));
    const [dl, evil] = await Promise.all([
      cli(['recordings', 'download', rec.id, mixFile, '--out', out]),
      cli(['recordings', 'download', rec.id, '../../etc/passwd', '--out', out + '.x']),
    ]);
    assert.equal(dl.status, 0, dl.stderr);
    assert.ok(readWavFile(out).samples.length > 16000);
    assert.notEqual(evil.status, 0);
    assert.match(evil.stderr, /400|404/);
  });

  it('`parley recordings encode` encodes it with a progress bar; the API then serves the Ogg files', async () => {
    const [rec] = (await call(base, 'GET', '/recordings')).body;
    const r = await cli(['recordings', 'encode', rec.id, '--format', 'ogg']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^\[#{30}\] 100% /m);
    assert.ok(r.stderr.split('\n').filter((l) => /^\[[#.]{30}\] \d+% /.test(l)).length >= 3, r.stderr);
    const oggs = r.stdout.trim().split('\n');
    assert.ok(oggs.length >= 2 && oggs.every((f) => f.endsWith('.ogg')), r.stdout);
    const meta = (await call(base, 'GET', `/recordings/${rec.id}`)).body;
    assert.deepEqual(meta.postProcessed.map((p: { file: string }) => p.file).sort(), [...oggs].sort());
    assert.ok(meta.postProcessed.every((p: { derived?: boolean }) => p.derived === true), 'listed as made after signing');
    const file = await call(base, 'GET', `/recordings/${rec.id}/files/${oggs[0]}`);
    assert.equal(file.status, 200);
    assert.equal(file.headers.get('content-type'), 'audio/ogg');
    // The signed sidecar is untouched: the recording still verifies, the encoded files checked by their list.
    const v = await cli(['recordings', 'verify', rec.id, '--json']);
    assert.equal(v.status, 0, v.stdout + v.stderr);
    const checked = JSON.parse(v.stdout).recordings[0].files.filter((f: { derived?: boolean }) => f.derived);
    assert.deepEqual(checked.map((f: { file: string; ok: boolean }) => [f.file, f.ok]).sort(), oggs.map((f) => [f, true]).sort());
    // An encoded file altered afterwards fails verify, by name.
    const path = join(parley.recordingDir, oggs[0]!);
    const bytes = readFileSync(path);
    writeFileSync(path, Buffer.concat([bytes, Buffer.from([0])]));
    const bad = await cli(['recordings', 'verify', rec.id]);
    writeFileSync(path, bytes);
    assert.equal(bad.status, 1, bad.stdout + bad.stderr);
    const out = bad.stdout.split('\n');
    assert.equal(out[0], `FAILED  ${rec.id}`);
    assert.ok(out[1]!.trim().startsWith(`${oggs[0]}: sha256 `) && out[1]!.includes(`${rec.id}.json.encoded says`), bad.stdout);
    // Encoding again replaces the list's entries, not duplicates them.
    assert.equal((await cli(['recordings', 'encode', rec.id, '--format', 'ogg'])).status, 0);
    const again = (await call(base, 'GET', `/recordings/${rec.id}`)).body;
    assert.equal(again.postProcessed.length, oggs.length);
    assert.equal((await cli(['recordings', 'verify', rec.id])).status, 0);
  });

  it('a client that connects late replays the kept events (WebSocket ?since= and GET /events/recent)', async () => {
    await waitFor('call.ended', () => events.find((e) => e.type === 'call.ended'));
    const live = events.filter((e) => e.type !== 'hello');
    const late = new WebSocket(`${base.replace('http', 'ws')}/events?token=${TEST_TOKEN}&since=0`);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const got: any[] = [];
    late.on('message', (m: WebSocket.RawData) => got.push(JSON.parse(m.toString())));
    await new Promise((resolve, reject) => late.once('open', resolve).once('error', reject));
    await waitFor('the replay', () => got.length >= live.length + 1);
    late.terminate();
    assert.equal(got[0].type, 'hello');
    assert.equal(got[0].oldestSeq, 1);
    assert.deepEqual(got.slice(1, live.length + 1), live, 'the same events, in the same order, as the live client saw');
    const mid = live[Math.floor(live.length / 2)].seq;
    const r = await call(base, 'GET', `/events/recent?since=${mid}`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.events.map((e: { seq: number }) => e.seq), live.filter((e) => e.seq > mid).map((e) => e.seq));
    assert.equal((await call(base, 'GET', '/events/recent?since=-1')).body.field, 'querystring.since');
  });

  it('the event stream saw the call in order', async () => {
    await waitFor('call.ended', () => events.find((e) => e.type === 'call.ended'));
    const mine = events.filter((e) => e.type !== 'hello');
    const seqs = mine.map((e) => e.seq);
    assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in sequence');
    const idx = (type: string): number => mine.findIndex((e) => e.type === type && (e.data.callId === callId || type === 'recording.saved'));
    assert.ok(mine.some((e) => e.type === 'leg.left'), 'a leg left');
    // The flow closes the recording as the call ends, so recording.saved may come before call.ended.
    const order = ['rule.matched', 'call.created', 'leg.joined', 'leg.left', 'call.ended'].map(idx);
    assert.ok(order.every((i) => i >= 0), `all seen: ${mine.map((e) => e.type).join(', ')}`);
    assert.deepEqual(order, [...order].sort((a, b) => a - b), `in order: ${mine.map((e) => e.type).join(', ')}`);
    assert.ok(idx('recording.saved') > idx('call.created'), 'recording.saved after call.created');
    assert.equal(mine[idx('rule.matched')].data.rule, 'gateway');
    assert.ok(mine.some((e) => e.type === 'leg.left' && e.data.callId === callId), 'legs left');
    const joined = mine.filter((e) => e.type === 'leg.joined' && e.data.callId === callId).map((e) => e.data.leg);
    assert.deepEqual(joined, ['caller', 'callee'], 'the caller, then the callee once it answered');
    assert.ok(mine.some((e) => e.type === 'talking' && e.data.callId === callId && e.data.talking === true), 'the caller talked');
  });

  it('the webhook receiver got call.ended and recording.saved on the retry, signed', async () => {
    await waitFor('two delivered webhooks', () => hooks.filter((h) => h.status === 204).length >= 2 || undefined);
    for (const type of ['call.ended', 'recording.saved']) {
      const tries = hooks.filter((h) => h.event === type);
      assert.deepEqual(tries.map((h) => [h.attempt, h.status]), [[1, 503], [2, 204]], type);
      for (const h of tries) {
        const expected = 'sha256=' + createHmac('sha256', HOOK_SECRET).update(h.body).digest('hex');
        assert.equal(h.signature, expected, `${type} signature`);
        assert.equal(JSON.parse(h.body).type, type);
      }
    }
  });
});

// A SIPREC stream whose packets are held back and then arrive at once (an SRC or a
// network that stalls: a loaded host, a Wi-Fi hiccup): a SIPp SRC sets up a one-stream
// session, a Node sender streams a PCMU tone every 20 ms but holds 500 ms of packets
// back and sends them together, in order, with their own sequence numbers and
// timestamps. A recorder nobody hears live must write every packet: the stem has the
// tone throughout, no gap the burst's length, and one tone frame per packet sent.
// With siprec.jitterMs 100 (a buffer shallower than the burst) the burst is lost,
// which is what a mixing leg's 100 ms buffer did to SIPREC streams before.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { encodeG711 } from '../../src/mixer/codecs/g711.ts';
import { rms } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { buildRtp } from '../helpers/rtp.ts';
import { startSipp } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { SCENARIOS, sippOk } from './helpers.ts';
import { share, sidecarOf, silentRuns, SIPREC_ROUTING, stemOf, TONES } from './siprec-helpers.ts';

const yaml = (jitterMs: number): string => `\nsiprec: { jitterMs: ${jitterMs} }${SIPREC_ROUTING}`;

const HZ = TONES.A;
const PACKETS = 200; // 4 s
const HOLD_FROM = 80; // packets 80..104 (500 ms) are held back, then sent at once
const HOLD_COUNT = 25;

/**
 * Streams PACKETS PCMU tone packets to `port` on a 20 ms grid, holding HOLD_COUNT back from HOLD_FROM.
 * Resolves with the wall-clock time (Date.now()) the first packet was sent.
 */
async function sendWithBurst(port: number): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const pcm = new Int16Array(160);
  const payload = new Uint8Array(160);
  const ssrc = 0x5eed1234;
  const held: Buffer[] = [];
  const t0 = performance.now();
  let firstSentAt = 0;
  let phase = 0;
  for (let i = 0; i < PACKETS; i++) {
    const due = t0 + i * 20;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let k = 0; k < 160; k++) pcm[k] = Math.round(8000 * Math.sin((2 * Math.PI * HZ * phase++) / 8000));
    encodeG711('ulaw', pcm, payload);
    const pkt = buildRtp({ payloadType: 0, seq: 1000 + i, timestamp: 5000 + i * 160, ssrc, payload: Buffer.from(payload) });
    if (i >= HOLD_FROM && i < HOLD_FROM + HOLD_COUNT) {
      held.push(pkt);
      if (held.length < HOLD_COUNT) continue;
      for (const h of held.splice(0)) sock.send(h, port, '127.0.0.1');
      continue;
    }
    if (i === 0) firstSentAt = Date.now();
    sock.send(pkt, port, '127.0.0.1');
  }
  await new Promise((r) => setTimeout(r, 50));
  sock.close();
  return firstSentAt;
}

/**
 * `leadMs`: where the tone starts in the stem; `sentMs`: when the first packet was sent, after the
 * stem started (its sidecar's start.at): the tone is written where it arrived, so leadMs is about
 * sentMs plus the packet's way in, not 1 s (siprec.jitterMs) more.
 */
async function recordWithBurst(parley: RunningParley): Promise<{ frames: number; gaps: [number, number][]; toneShare: number; leadMs: number; sentMs: number }> {
  const calls = parley.app.calls!;
  const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
  const ended = new Promise<void>((resolve) => calls.once('callend', () => resolve()));
  const keys = ['-key', 'group', `g-${Math.random().toString(36).slice(2)}`, '-key', 'session', `s-${Math.random().toString(36).slice(2)}`, '-key', 'aor1', 'sip:alice@example.com', '-key', 'aor2', 'sip:bob@example.com', '-key', 'rtp1', '40000'];
  // -d: the session lasts past the sender's 4 s (it waits for the SRC's BYE).
  const sipp = await startSipp({ scenario: join(SCENARIOS, 'siprec-one-stream.xml'), transport: 'udp', remote: `127.0.0.1:${parley.sipPort}`, calls: 1, timeoutS: 40, extra: [...keys, '-d', '5000'] });
  const call = await Promise.race([started, sipp.done.then((r) => Promise.reject(new Error(`SIPp ended before the session started: ${r.errors || r.stdout.slice(-800)}`)))]);
  await waitFor('the SIPREC session answered', () => call.call.answered, 10_000);
  const sdp = call.call.room.leg('s0')!.localSdp;
  const port = Number(/^m=audio (\d+)/m.exec(sdp)![1]);
  const firstSentAt = await sendWithBurst(port);
  sippOk(await sipp.done, 'SRC');
  await ended;
  const meta = sidecarOf(parley, call.call.callId);
  const stem = stemOf(parley, meta, 's0');
  const sentMs = firstSentAt - Date.parse(meta.legs.find((l) => l.id === 's0')!.stems[0]!.start.at);
  const n = stem.sampleRate / 50;
  let frames = 0;
  let leadMs = -1;
  for (let i = 0; i + n <= stem.samples.length; i += n) {
    if (rms(stem.samples, i, n) <= 0.05) continue;
    frames++;
    if (leadMs < 0) leadMs = (i / n) * 20;
  }
  return { frames, gaps: silentRuns(stem.samples, stem.sampleRate), toneShare: share(stem.samples, stem.sampleRate, HZ), leadMs, sentMs };
}

describe('SIPREC: a 500 ms burst on a recorded stream', () => {
  let parley: RunningParley | null = null;

  after(async () => {
    await parley?.stop();
  });

  it('siprec.jitterMs 1000 (media threads): every packet of the burst is written, in place, no gap', async (t) => {
    parley = await startParley(yaml(1000));
    const r = await recordWithBurst(parley);
    t.diagnostic(`tone frames ${r.frames} of ${PACKETS}, gaps ${JSON.stringify(r.gaps)}, tone from ${r.leadMs} ms, first packet sent ${r.sentMs} ms after the stem started`);
    await parley.stop();
    parley = null;
    // The stream plays 1 s behind, but that lead-in is not written (LeadInTrim): the tone starts in the
    // stem where it arrived, measured against when it was sent (how long after the session began the test
    // got to send is the machine's speed). Written, the lead-in would put it 1000 ms later; 700 ms is left
    // for the packet's way in on a loaded machine.
    assert.ok(r.leadMs >= 0 && r.leadMs - r.sentMs < 700, `tone from ${r.leadMs} ms into the stem, its first packet sent at ${r.sentMs} ms`);
    assert.deepEqual(r.gaps, [], `no silent run inside the tone (${JSON.stringify(r.gaps)})`);
    assert.ok(Math.abs(r.frames - PACKETS) <= 2, `${r.frames} tone frames for ${PACKETS} packets`);
    assert.ok(r.toneShare > 0.8, `tone share ${r.toneShare}`);
  });

  it('the same with media.threads 0 (the room on the main thread): every packet written, the end played out', async (t) => {
    parley = await startParley(yaml(1000), { mediaThreads: 0 });
    const r = await recordWithBurst(parley);
    t.diagnostic(`tone frames ${r.frames} of ${PACKETS}, gaps ${JSON.stringify(r.gaps)}, tone from ${r.leadMs} ms`);
    await parley.stop();
    parley = null;
    assert.deepEqual(r.gaps, []);
    assert.ok(Math.abs(r.frames - PACKETS) <= 2, `${r.frames} tone frames for ${PACKETS} packets`);
  });

  it('siprec.jitterMs 100: the burst overflows the buffer and most of it is lost (the fault a deep buffer fixes)', async (t) => {
    parley = await startParley(yaml(100));
    const r = await recordWithBurst(parley);
    t.diagnostic(`tone frames ${r.frames} of ${PACKETS}, gaps ${JSON.stringify(r.gaps)}`);
    await parley.stop();
    parley = null;
    const lost = PACKETS - r.frames;
    assert.ok(lost >= 5, `${lost} of ${PACKETS} packets missing from the stem (gaps ${JSON.stringify(r.gaps)})`);
  });
});

// The record-notice gateway, what each party hears while it waits and what the
// recording proves (SIPp caller and callee, Node RTP peers, audio measured):
// - after the notice the caller hears ringback (440 + 480 Hz, 2 s on) while the
//   callee rings and while it hears the whisper, and the callee's voice exactly
//   from the connection on: no silent wait, no ringback after it;
// - the mix holds the caller's notice and the callee's whisper where the sidecar
//   marks them (envelope correlation with the prompt), then the conversation,
//   and never the ringback; the caller's stem holds the notice, the callee's the
//   whisper; the stereo file has each on its party's channel.
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { bestCorrelation, channel, envelope, notch, purity, readWavFile, rms, type WavData } from '../helpers/audio-analysis.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import type { RtpPeer } from '../helpers/rtp-peer.ts';
import { readSidecars, type Sidecar } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { nextCallEnd, sippOk, startCallee, startCaller, type Peer } from './helpers.ts';

const CALLER_HZ = 700;
const CALLEE_HZ = 1000;
const RINGBACK_HZ = [440, 480];
/** 100 ms of 8 kHz audio: the unit the caller's stream is judged in. */
const CHUNK = 800;

const yaml = `
routing:
  rules:
    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer: { early: true }
    - record: { action: start, stereo: true, stems: true }
    - play: { prompt: record-notice, notice: true }
    - bridge: { whisper: { prompt: record-notice }, ringTimeout: 10 }
`;

const PROMPT = readWavFile(resolve('prompts/record-notice.wav'));
const PROMPT_MS = (PROMPT.samples.length / PROMPT.sampleRate) * 1000;

/** What a peer received, in sequence order, each 20 ms packet with its arrival time. */
function timeline(peer: RtpPeer): { pcm: Int16Array; at: number[] } {
  const pkts = peer.received.filter((p) => p.payloadType === 0).sort((a, b) => ((a.seq - b.seq + 0x8000) & 0xffff) - 0x8000);
  return { pcm: peer.decoded(), at: pkts.map((p) => p.at) };
}

/** Ringback in the 100 ms chunk at `s`: both of its tones, most of its energy. */
function isRingback(pcm: Int16Array, s: number): boolean {
  const p = RINGBACK_HZ.map((hz) => purity(pcm, 8000, hz, s, CHUNK));
  return p[0]! > 0.2 && p[1]! > 0.2 && p[0]! + p[1]! > 0.6;
}


/** Both parties' tones taken out: what is left of a recording is the prompts (and silence). */
function withoutTones(x: ArrayLike<number>, rate: number): Int16Array {
  return notch(notch(x, rate, CALLER_HZ), rate, CALLEE_HZ);
}

const PROMPT_ENVELOPE = envelope(withoutTones(PROMPT.samples, PROMPT.sampleRate), PROMPT.sampleRate);

/** Envelope correlation of the prompt with `x` from `atMs` on (a few frames of lag allowed), the parties' tones removed. */
function promptAt(x: Int16Array, rate: number, atMs: number): { r: number; lag: number } {
  const start = Math.max(0, Math.round((atMs / 1000) * rate));
  const got = envelope(withoutTones(x.subarray(start, start + Math.round(((PROMPT_MS + 200) / 1000) * rate)), rate), rate);
  return bestCorrelation(PROMPT_ENVELOPE, got, 5);
}

// One Parley for both suites (each makes one call and reads what it recorded by itself; the first
// suite's recording is the only one when it reads it): a start and stop less.
const noticeGateway = parleyPerSuite(yaml);

describe('record notice: ringback while waiting, and the notices in the recording (SIPp on both sides)', () => {
  let parley: RunningParley;
  let caller: Peer;
  let callee: Peer;
  let meta: Sidecar;
  let mix: WavData;

  before(async () => {
    parley = noticeGateway();
    callee = await startCallee('callee.xml', CALLEE_HZ);
    const ended = nextCallEnd(parley);
    caller = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: CALLER_HZ, pauseMs: 4000 });
    sippOk(await caller.done, 'caller');
    sippOk(await callee.done, 'callee');
    await ended;
    meta = await waitFor('the final sidecar', () => readSidecars(parley.recordingDir).find((m) => m.mix?.sha256));
    mix = readWavFile(join(parley.recordingDir, meta.mix.file));
  });

  after(async () => {
    await caller?.rtp.close();
    await callee?.rtp.close();
  });

  it('the caller hears ringback from the notice to the connection, then the callee, and no ringback after', () => {
    const { pcm, at } = timeline(caller.rtp);
    const chunks = Math.floor(pcm.length / CHUNK);
    const atChunk = (c: number): number => at[c * 5]!;
    // The callee answered when Parley's first packet (the whisper) reached it.
    const answeredAt = callee.rtp.received[0]!.at;
    // Connected: the first chunk of the callee's tone at the caller.
    let connect = -1;
    for (let c = 0; c < chunks; c++) {
      if (atChunk(c) > answeredAt && purity(pcm, 8000, CALLEE_HZ, c * CHUNK, CHUNK) > 0.5) {
        connect = c;
        break;
      }
    }
    assert.ok(connect > 0, 'the caller hears the callee');
    const firstRing = [...Array(chunks).keys()].find((c) => isRingback(pcm, c * CHUNK)) ?? -1;
    assert.ok(firstRing >= 0, 'the caller hears ringback');
    // The notice played first (it is ~1.6 s): ringback starts after it, before the answer.
    const ringStartMs = atChunk(firstRing) - at[0]!;
    assert.ok(ringStartMs > PROMPT_MS - 300, `ringback starts ${ringStartMs.toFixed(0)} ms into the call, after the notice`);
    assert.ok(atChunk(firstRing) < answeredAt, 'ringback while the callee rings');
    // From the answer to the connection (the whisper, ~1.6 s): ringback, by its cadence
    // (2 s on from its start, then 4 s off), never a silent wait.
    const answerChunk = [...Array(chunks).keys()].find((c) => atChunk(c) >= answeredAt)!;
    const waitMs = (connect - answerChunk) * 100;
    assert.ok(waitMs > PROMPT_MS - 400, `the whisper lasted ${waitMs} ms for the caller`);
    let on = 0;
    let wrong = 0;
    for (let c = answerChunk + 1; c < connect - 1; c++) {
      const phase = ((c - firstRing) * 100) % 6000;
      if (phase < 100 || (phase > 1900 && phase < 2100)) continue; // cadence edges
      const ring = isRingback(pcm, c * CHUNK);
      if (phase < 2000) {
        if (ring) on++;
        else wrong++;
      } else if (ring || rms(pcm, c * CHUNK, CHUNK) > 0.01) wrong++;
    }
    assert.ok(on * 100 >= 1000, `ringback heard for ${on * 100} ms of the ${waitMs} ms whisper`);
    assert.ok(wrong <= 1, `${wrong} chunks off the ringback cadence`);
    // Stopped at the connection: no ringback afterwards, the callee from there on.
    const after = [...Array(chunks - connect - 1).keys()].map((k) => connect + 1 + k);
    assert.equal(after.filter((c) => isRingback(pcm, c * CHUNK) || purity(pcm, 8000, 480, c * CHUNK, CHUNK) > 0.05).length, 0, 'no ringback once connected');
    const calleeShare = after.filter((c) => purity(pcm, 8000, CALLEE_HZ, c * CHUNK, CHUNK) > 0.6).length / after.length;
    assert.ok(calleeShare > 0.8, `callee tone in ${(calleeShare * 100).toFixed(0)}% of the conversation`);
  });

  it('the sidecar marks the notice to the caller and the whisper to the callee', () => {
    const n = meta.notices as { prompt: string; leg?: string; fileMs: number }[];
    assert.deepEqual(n.map((x) => [x.prompt, x.leg]), [['record-notice', 'caller'], ['record-notice', 'callee']]);
    assert.ok(n[1]!.fileMs - n[0]!.fileMs > PROMPT_MS, 'the whisper after the notice');
  });

  it('the mix holds the notice and the whisper where the sidecar says, then the conversation, never the ringback', () => {
    const rate = mix.sampleRate;
    assert.equal(meta.notices.length, 2, 'two notices');
    for (const n of meta.notices as { leg: string; fileMs: number }[]) {
      const c = promptAt(mix.samples, rate, n.fileMs);
      assert.ok(c.r > 0.9 && Math.abs(c.lag) <= 2, `${n.leg}'s notice in the mix at ${n.fileMs} ms: r=${c.r.toFixed(3)} lag=${c.lag}`);
    }
    const whisper = meta.notices[1] as { fileMs: number };
    const from = Math.round((whisper.fileMs / 1000) * rate);
    const len = Math.round((PROMPT_MS / 1000) * rate);
    assert.ok(purity(mix.samples, rate, 480, from, len) < 0.01, 'no ringback in the mix');
    const tail = mix.samples.subarray(mix.samples.length - rate * 2);
    assert.ok(purity(tail, rate, CALLER_HZ) > 0.2 && purity(tail, rate, CALLEE_HZ) > 0.2, 'the conversation follows');
  });

  it("each party's stem holds the notice it heard, with its own voice", () => {
    const legs = meta.legs as { id: string; stems: { file: string; start: { fileMs: number } }[] }[];
    const rate = mix.sampleRate;
    assert.equal(meta.notices.length, 2, 'two notices');
    for (const n of meta.notices as { leg: string; fileMs: number }[]) {
      const stem = legs.find((l) => l.id === n.leg)!.stems[0]!;
      const x = readWavFile(join(parley.recordingDir, stem.file)).samples;
      const c = promptAt(x, rate, n.fileMs - stem.start.fileMs);
      assert.ok(c.r > 0.8 && Math.abs(c.lag) <= 2, `${n.leg}'s stem: notice r=${c.r.toFixed(3)} lag=${c.lag}`);
      const own = n.leg === 'caller' ? CALLER_HZ : CALLEE_HZ;
      assert.ok(purity(x, rate, own, x.length - rate, rate) > 0.6, `${n.leg}'s stem ends with its own voice`);
    }
    const other = legs.find((l) => l.id === 'callee')!.stems[0]!;
    const y = readWavFile(join(parley.recordingDir, other.file)).samples;
    assert.ok(purity(y, rate, CALLER_HZ, y.length - rate, rate) < 0.05, "the callee's stem does not hold the caller");
  });

  it('the stereo file has the notice on the left (caller) and the whisper on the right', () => {
    const st = readWavFile(join(parley.recordingDir, meta.stereo.file));
    const [notice, whisper] = meta.notices as { fileMs: number }[];
    const left = channel(st.samples, 2, 0);
    const right = channel(st.samples, 2, 1);
    assert.ok(promptAt(left, st.sampleRate, notice!.fileMs).r > 0.8, 'notice on the left');
    assert.ok(promptAt(right, st.sampleRate, whisper!.fileMs).r > 0.8, 'whisper on the right');
    const from = Math.round((notice!.fileMs / 1000) * st.sampleRate);
    const len = Math.round((PROMPT_MS / 1000) * st.sampleRate);
    assert.ok(rms(right, from, len) < 0.01, 'the notice is not on the callee channel');
  });
});

describe("record notice with a callee that sends early media: its own ringback, then ours during the whisper", () => {
  let parley: RunningParley;
  let caller: Peer;
  let callee: Peer;

  before(async () => {
    parley = noticeGateway();
    // 183 with SDP (its tone from then on), 200 OK 2.5 s later.
    callee = await startCallee('callee-early-media.xml', CALLEE_HZ);
    const ended = nextCallEnd(parley);
    caller = await startCaller(parley, 'caller.xml', `sip:bob@127.0.0.1:${callee.port}`, { toneHz: CALLER_HZ, pauseMs: 3000 });
    sippOk(await caller.done, 'caller');
    sippOk(await callee.done, 'callee');
    await ended;
  });

  after(async () => {
    await caller?.rtp.close();
    await callee?.rtp.close();
  });

  it("the caller hears the callee's early media (no ringback over it), ringback while the callee hears the whisper, then the callee", () => {
    const { pcm } = timeline(caller.rtp);
    const chunks = Math.floor(pcm.length / CHUNK);
    const calleeTone = (c: number): boolean => purity(pcm, 8000, CALLEE_HZ, c * CHUNK, CHUNK) > 0.5;
    const ring = (c: number): boolean => isRingback(pcm, c * CHUNK);
    // The callee's early media: the first run of its tone.
    const e0 = [...Array(chunks).keys()].find(calleeTone) ?? -1;
    assert.ok(e0 > 0, "the caller hears the callee's early media");
    let e1 = e0;
    while (e1 < chunks && (calleeTone(e1) || calleeTone(e1 + 1))) e1++;
    const earlyMs = (e1 - e0) * 100;
    assert.ok(earlyMs >= 2000, `early media heard for ${earlyMs} ms (the callee answers 2.5 s after its 183)`);
    const ringOverEarly = [...Array(e1 - e0).keys()].filter((k) => ring(e0 + k) || purity(pcm, 8000, 480, (e0 + k) * CHUNK, CHUNK) > 0.05).length;
    assert.ok(ringOverEarly === 0, `${ringOverEarly} chunks of our ringback over the callee's early media`);
    // Then the whisper to the callee: the callee is not heard, ringback is.
    const connect = [...Array(chunks - e1).keys()].map((k) => e1 + k).find(calleeTone) ?? -1;
    assert.ok(connect > e1, 'the caller hears the callee again once connected');
    const waitMs = (connect - e1) * 100;
    assert.ok(waitMs > PROMPT_MS - 400, `the whisper lasted ${waitMs} ms for the caller`);
    const on = [...Array(connect - e1).keys()].filter((k) => ring(e1 + k)).length;
    assert.ok(on * 100 >= 1200, `ringback for ${on * 100} ms of the ${waitMs} ms whisper`);
    const after = [...Array(chunks - connect - 1).keys()].map((k) => connect + 1 + k);
    assert.equal(after.filter((c) => ring(c) || purity(pcm, 8000, 480, c * CHUNK, CHUNK) > 0.05).length, 0, 'no ringback once connected');
    assert.ok(after.filter(calleeTone).length / after.length > 0.8, 'the callee once connected');
  });
});

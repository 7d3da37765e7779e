// Phones in the field send the packet length they are set to, whatever the answer says:
// 30 ms G.711 (some Cisco and Polycom sets, a=ptime:30), 40 or 60 ms from others, 10 ms
// from a few. The mixer played one packet per 20 ms tick, so a 30 ms stream lost a third of
// its audio and underran (the caller's stem was a broken tone), and it sent 20 ms whatever
// the phone asked for. Each case here is a call from a phone that offers and sends such
// packets of a 440 Hz tone: Parley answers with the phone's a=ptime and sends packets of that
// length (what its answer says), and the caller's recorded stem holds the tone whole: every
// 20 ms block of the middle of it at the level sent, the tone clean. A callee whose answer
// says a=ptime:30 gets 30 ms packets from Parley, and hears the caller.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import type { MediaRoom } from '../../src/media-plane/media-room.ts';
import { readWavFile, rms } from '../helpers/audio-analysis.ts';
import { apiBase, call } from '../helpers/api-client.ts';
import { buildRtp } from '../helpers/rtp.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { hears } from '../helpers/peer-hearing.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertToneWhole, measureTone } from '../helpers/whole-tone.ts';
import { callEnd } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, bodyOf, BRIDGE_YAML, flowYaml, rawCall, rawCalleeCall, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const yaml = flowYaml('rec', `    - answer
    - record: { action: start }
    - play: { tone: "silence:4000" }
    - hangup
`);

const HZ = 440;
const AMPLITUDE = 8000;

/** A room's mixer ticks run late or skipped over a stretch of its call (MixClock's counters). */
interface ThreadStalls {
  late: number;
  skipped: number;
}

describe('packets of 10, 30, 40 and 60 ms from the phone are recorded whole (a=ptime, a=maxptime)', () => {
  const parley = rawParleyPerSuite(yaml);

  // The calls run three at a time (each waits on its own 4 s of real time): each waits for its
  // own end and reads its own recording and mixer counters; nothing is left once all are done.
  describe('each call', { concurrency: 3 }, () => {
    for (const [codec, ptime] of [['PCMU', 30], ['PCMA', 40], ['PCMU', 60], ['PCMU', 10], ['G722', 30]] as const) {
      it(`${codec} in ${ptime} ms packets: Parley answers and sends ${ptime} ms; the caller's stem holds the tone without gaps`, async () => {
        const phone = await new RtpPeer({ codec, ptime }).bind();
        await rawCall(parley(), { name: `ptime-${codec}-${ptime}`, user: 'rec', phone }, async (c, ua) => {
          const ended = callEnd(parley(), c.callId);
          const ok = await c.invite(phone.sdp([`a=maxptime:${Math.max(ptime, 60)}`]));
          assert.equal(statusOf(ok), 200, ok);
          const answer = bodyOf(ok);
          assert.match(answer, new RegExp(`^a=ptime:${ptime}\\r?$`, 'm'), `the answer says ${ptime} ms`);
          phone.useRemoteSdp(answer);
          phone.start({ kind: 'tone', freq: HZ, amplitude: AMPLITUDE });
          await answerBye(ua, parley().sipPort, c.callId, 30_000);
          const { active } = await ended;
          // What Parley sent is what its answer says: packets of `ptime` ms (8 bytes a ms of G.711 or G.722).
          const audio = phone.received.filter((p) => p.payloadType === phone.pt);
          assert.ok(audio.length > 2000 / ptime, `Parley sent audio (${audio.length} packets)`);
          const lengths = audio.map((p) => p.payload.length);
          const whole = lengths.filter((n) => n === ptime * 8).length;
          // A packet cut short may end a stretch the sender skipped (a stall of this loaded machine).
          assert.ok(whole >= lengths.length - 2, `the packets Parley sent are ${ptime} ms: ${whole} of ${lengths.length} (${[...new Set(lengths)].join(', ')} bytes)`);

          const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 15_000);
          const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
          const stem = readWavFile(join(parley().recordingDir, leg.stems[0]!.file));
          // The middle two seconds of the four (start-up and the hang-up aside), every 20 ms block at the level sent.
          assertToneWhole(stem.samples, stem.sampleRate, HZ, 'the stem', 0.7 * (AMPLITUDE / 32768 / Math.SQRT2));
        });
      });
    }

    /** A call from `phone` sending the tone until Parley hangs up: the caller's recorded stem. */
    async function callerStem(phone: RtpPeer, name: string, sdpExtra: string[] = [], hz = HZ, during: (callId: string) => Promise<void> = async () => undefined): Promise<{ samples: Int16Array; rate: number }> {
      return rawCall(parley(), { name, user: 'rec', phone }, async (c, ua) => {
        const ended = callEnd(parley(), c.callId);
        const ok = await c.invite(phone.sdp(sdpExtra));
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        phone.start({ kind: 'tone', freq: hz, amplitude: AMPLITUDE });
        await during(c.callId);
        await answerBye(ua, parley().sipPort, c.callId, 30_000);
        const { active } = await ended;
        const meta = await waitFor('the closed recording', () => finalSidecars(parley().recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === active.call.callId)), 15_000);
        const leg = (meta.legs as { role: string; stems: { file: string }[] }[]).find((l) => l.role === 'caller')!;
        const stem = readWavFile(join(parley().recordingDir, leg.stems[0]!.file));
        return { samples: stem.samples, rate: stem.sampleRate };
      });
    }

    // A lost packet leaves a frame partly empty. Its gap was filled with 0xff, G.711 µ-law's
    // silence but for G.722 (ADPCM, no silence byte) a run of the smallest steps down: the
    // decoder's step sizes shrank, and after each gap the tone came back faded in over some
    // 40 ms (measured: 5 % of its level 5 ms after the gap, 90 % only 40 ms later). Now a G.722
    // gap is not filled (packet-reframer.ts): the gap is silence, and the tone is back at once.
    it('G.722 in 30 ms packets, every tenth lost: each gap is silence as long as the loss, the tone back at full level after it, no burst', async () => {
      const { samples, rate } = await callerStem(await new RtpPeer({ codec: 'G722', ptime: 30, loseEvery: 10 }).bind(), 'g722-loss');
      const from = Math.floor(samples.length / 2 - rate);
      const middle = samples.subarray(from, from + 2 * rate);
      assert.equal(middle.length, 2 * rate, `the stem is long enough (${(samples.length / rate).toFixed(2)} s)`);
      const block = rate / 200;
      const expected = AMPLITUDE / 32768 / Math.SQRT2;
      // Runs of 5 ms blocks below the tone's level: one per lost packet (30 ms every 300 ms).
      const runs: number[] = [];
      let run = 0;
      let loudest = 0;
      for (let b = 0; b + block <= middle.length; b += block) {
        const level = rms(middle, b, block);
        loudest = Math.max(loudest, level);
        if (level < 0.7 * expected) run++;
        else if (run > 0) {
          runs.push(run * 5);
          run = 0;
        }
      }
      assert.ok(runs.length >= 5, `the lost packets show as gaps: ${runs.length} (${runs.join(', ')} ms)`);
      // A 30 ms loss is up to 40 ms of 5 ms blocks; one more gap may be longer (a late frame on this loaded machine).
      const long = runs.filter((ms) => ms > 40);
      assert.ok(long.length <= 1, `gaps no longer than the loss (the tone back at once after it): ${runs.join(', ')} ms`);
      assert.ok(loudest < 1.3 * expected, `no burst: the loudest 5 ms is ${(loudest / expected).toFixed(2)} of the tone's level`);
    });

    // Opus packets of 40 or 60 ms hold two or three 20 ms frames of audio (one SILK frame may
    // span them all). The mixer played one packet per 20 ms tick: the first 20 ms of each,
    // then the gap concealed at half level, then silence. Now the packet's audio is played
    // whole, 20 ms a tick (opus-packet-splitter.ts).
    for (const ptime of [40, 60]) {
      it(`Opus in ${ptime} ms packets: the caller's stem holds the tone without gaps`, async () => {
        const { samples, rate } = await callerStem(await new RtpPeer({ codec: 'opus', ptime }).bind(), `opus-${ptime}`);
        assertToneWhole(samples, rate, HZ, 'the stem', 0.6 * (AMPLITUDE / 32768 / Math.SQRT2));
      });
    }

    // Opus in 10 ms packets (low-latency settings, some WebRTC gateways) and 120 ms ones
    // (satellite and low-bandwidth links, a=maxptime:120; RFC 7587 §4.2 allows up to 120 ms),
    // and a stream that changes its length every 500 ms. 10 ms packets were played one a tick
    // (half of each 20 ms silence, the buffer shedding the backlog); a 120 ms one was played
    // for 20 ms and then nothing until the next. Now every packet length from 2.5 to 120 ms
    // is placed on the 20 ms grid by its frames (opus-packet-splitter.ts). The tone is 1030 Hz:
    // 2.5, 10 and 20 ms are not whole cycles of it, so audio played twice or skipped shifts the
    // phase of what follows (measureTone's jumps).
    const TONE = 1030;
    for (const [name, opts] of [
      ['10 ms packets', { ptime: 10 }],
      ['120 ms packets', { ptime: 120 }],
      ['packets changing every 500 ms (10, 120, 20, 60, 80, 40 ms)', { ptime: 10, ptimeCycle: [10, 120, 20, 60, 80, 40] }],
    ] as const) {
      it(`Opus in ${name}: the caller's stem is the tone, its frequency (±2 %) and level (±1.5 dB), no gap, nothing twice`, async (t) => {
        const phone = await new RtpPeer({ codec: 'opus', ...opts, ptimeCycle: 'ptimeCycle' in opts ? [...opts.ptimeCycle] : undefined }).bind();
        let mixerStalls: Promise<ThreadStalls> = Promise.resolve({ late: 0, skipped: 0 });
        const { samples, rate } = await callerStem(phone, `opus-${name.split(' ')[0]}`, ['a=maxptime:120'], TONE, async (callId) => {
          mixerStalls = roomStalls(callId, 600, 3200);
        });
        const m = measureTone(samples, rate, TONE, AMPLITUDE);
        const thread = await mixerStalls;
        const stall = measuredStalls(phone, samples, rate, thread);
        const what = `${m.hz.toFixed(1)} Hz, ${m.levelDb.toFixed(2)} dB, weak blocks ${m.weak.join(',')}, jumps ${m.jumps.join('; ')}, events ${m.events}; ${stall.text}`;
        t.diagnostic(what);
        assert.ok(Math.abs(m.hz / TONE - 1) <= 0.02, `frequency within 2 %: ${what}`);
        assert.ok(Math.abs(m.levelDb) <= 1.5, `level within 1.5 dB: ${what}`);
        // One late packet or burst may leave an underrun (blocks below level, then the same audio
        // later) or a frame shed, and the decoder's drift after it: one event, at most 6 weak
        // blocks, whatever was measured. Each stall measured may explain one event more (two at
        // most), and weak blocks as many as the 20 ms frames it lasted (24 at most). Before the
        // change: 55 and 66 weak blocks, 44 and 16 jumps all through, in 10 and 120 ms packets.
        // (The unit test's room, without a network or a load, is held to none: opus-packet-splitter.test.ts.)
        const moreWeak = Math.min(stall.frames, 24);
        assert.ok(m.weak.length <= 6 + moreWeak && m.events <= 1 + Math.min(stall.count, 2), `no gaps, nothing repeated or skipped (but for the stalls measured): ${what}`);
        // The whole call is tone: from its first 300 ms to its end (the hang-up aside), every 100 ms holds it.
        const win = rate / 10;
        const quiet: number[] = [];
        for (let b = Math.round(0.3 * rate); b + win <= samples.length - win; b += win) if (rms(samples, b, win) < 0.5 * (AMPLITUDE / 32768 / Math.SQRT2)) quiet.push(b / win);
        assert.ok(samples.length / rate > 3.5 && quiet.length <= 1 + Math.min(Math.ceil(moreWeak / 5), 4), `the stem (${(samples.length / rate).toFixed(2)} s) is tone throughout (one stall aside, or those measured): quiet 100 ms at ${quiet.join(', ')}; ${what}`);
      });
    }

    /** The media room of the call with SIP Call-ID `callId` (up). */
    function callRoom(callId: string): MediaRoom {
      return [...parley().app.calls!.active.values()].find((a) => a.call.callId === callId)!.call.room;
    }

    /** The mixer clock counters (late and skipped ticks) of call `callId` between `fromMs` and `toMs` from now (the call up; fresh from its media thread). */
    async function roomStalls(callId: string, fromMs: number, toMs: number): Promise<ThreadStalls> {
      const room = callRoom(callId);
      const read = async (): Promise<ThreadStalls> => {
        if (!room.isClosed) await parley().app.media!.nextStats();
        const { late, skipped } = room.mixerStats;
        return { late, skipped };
      };
      const start = performance.now();
      await new Promise((r) => setTimeout(r, fromMs));
      const a = await read();
      await new Promise((r) => setTimeout(r, Math.max(0, start + toMs - performance.now())));
      const b = await read();
      return { late: b.late - a.late, skipped: b.skipped - a.skipped };
    }

    /**
     * Stalls of this loaded machine over the middle two seconds of a stem (measureTone's), as the
     * two clocks involved measured them: the phone's sender (in this process: a frame sent over
     * 40 ms after the one before went out late, in a burst), from 400 ms before those seconds
     * to their end (the stem starts about when the phone does), and the room's mixer (`thread`:
     * ticks run late or skipped, its own counters, over the same stretch). Each is a real-time
     * stall: the live jitter buffer (20 to 100 ms) then conceals, sheds or overflows, as it must
     * for a phone whose network holds packets back that long. `frames`: the 20 ms frames they lasted.
     */
    function measuredStalls(phone: RtpPeer, samples: Int16Array, rate: number, thread: ThreadStalls): { count: number; frames: number; text: string } {
      const mid = (1000 * samples.length) / rate / 2;
      const t0 = phone.sentAt[0] ?? 0;
      const senderGaps = phone.sentAt.map((at, i) => (i > 0 && at - t0 >= mid - 1400 && at - t0 <= mid + 1000 ? at - phone.sentAt[i - 1]! : 0)).filter((g) => g > 40);
      return {
        count: senderGaps.length + (thread.late + thread.skipped > 0 ? 1 : 0),
        frames: senderGaps.reduce((n, g) => n + Math.round(g / 20) - 1, 0) + thread.late + thread.skipped,
        text: `sender stalls ${senderGaps.map((g) => `${g.toFixed(0)} ms`).join(', ') || 'none'}, mixer ticks late ${thread.late}, skipped ${thread.skipped}`,
      };
    }

    // Malformed Opus packets (RFC 6716 §3.4).
    // Among a phone's 10 ms packets, every 100 ms one that breaks the framing rules: a code 3
    // packet of 0 frames, one of 180 ms, one whose frame lengths run past its end, an empty
    // payload. Each is dropped before the jitter buffer and counted; the call and its
    // recording go on untouched.
    it('are dropped and counted (/metrics malformed_payload), and the stem around them is the whole tone', async (t) => {
      const TONE = 1030;
      const bad = [Uint8Array.of((19 << 3) | 3, 0, 1), Uint8Array.of((3 << 3) | 3, 3, 1, 2, 3), Uint8Array.of((19 << 3) | 2, 200, 1), new Uint8Array(0), Uint8Array.of((19 << 3) | 3, 0x80 | 2, 250, 1)];
      const phone = await new RtpPeer({ codec: 'opus', ptime: 10 }).bind();
      let sent = 0;
      const timer = setInterval(() => {
        phone.send(buildRtp({ payloadType: phone.pt, seq: (30_000 + sent) & 0xffff, timestamp: 12345, ssrc: phone.ssrc, payload: Buffer.from(bad[sent % bad.length]) }));
        sent++;
      }, 100);
      let counted = 0;
      try {
        let mixerStalls: Promise<ThreadStalls> = Promise.resolve({ late: 0, skipped: 0 });
        const { samples, rate } = await callerStem(phone, 'opus-malformed', [], TONE, async (callId) => {
          mixerStalls = roomStalls(callId, 600, 3200);
          const room = `room="${callRoom(callId).id}"`;
          counted = await waitFor('malformed Opus packets counted in /metrics', async () => {
            const m = await call(apiBase(parley()), 'GET', '/metrics');
            const line = m.text.split('\n').find((l) => l.startsWith('parley_leg_rtp_dropped_packets{') && l.includes(room) && l.includes('leg="caller"') && l.includes('cause="malformed_payload"'));
            const v = line ? Number(line.split(' ').pop()) : 0;
            return v >= 10 ? v : undefined;
          }, 3500);
        });
        assert.ok(counted >= 10 && counted <= sent, `counted ${counted} of ${sent} sent`);
        const m = measureTone(samples, rate, TONE, AMPLITUDE);
        const stall = measuredStalls(phone, samples, rate, await mixerStalls);
        const what = `${m.hz.toFixed(1)} Hz, ${m.levelDb.toFixed(2)} dB, weak blocks ${m.weak.join(',')}, jumps ${m.jumps.join('; ')}, events ${m.events}; ${stall.text}`;
        t.diagnostic(what);
        assert.ok(Math.abs(m.hz / TONE - 1) <= 0.02 && Math.abs(m.levelDb) <= 1.5, `the tone: ${what}`);
        // (Over 4 s of 10 ms packets beside a timer, this loaded machine was seen to stall twice: two events.)
        // As in the cases above, the stalls measured may explain more: weak blocks as many as the frames they lasted (24 at most), an event more for two.
        assert.ok(m.weak.length <= 6 + Math.min(stall.frames, 24) && m.events <= Math.max(2, 1 + Math.min(stall.count, 2)), `no gap, nothing repeated or skipped (but for the stalls measured): ${what}`);
      } finally {
        clearInterval(timer);
      }
    });
  });

  it('leaves no call, room, leg or open recording behind', async () => {
    await assertNothingLeft(parley());
  });
});

describe('a callee whose answer says a=ptime:30', () => {
  const parley = rawParleyPerSuite(BRIDGE_YAML);

  it('gets 30 ms packets from Parley and hears the caller in them', async () => {
    await rawCalleeCall(parley(), { name: 'callee-ptime30', scenario: 'callee-ptime.xml', calleeHz: 600, extra: ['-key', 'ptime', '30'] }, async (c, phone, callee) => {
      phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      await waitFor('the callee gets RTP', () => (callee.rtp.received.length > 0 ? true : undefined), 15_000);
      const from = callee.rtp.received.length;
      await waitFor('two seconds of audio at the callee', () => (callee.rtp.received.length >= from + 2000 / 30 ? true : undefined), 15_000);
      const got = callee.rtp.received.slice(from).filter((p) => p.payloadType === 0);
      const whole = got.filter((p) => p.payload.length === 240).length;
      assert.ok(whole >= got.length - 2, `Parley sends the callee 30 ms packets: ${whole} of ${got.length}`);
      const t = hears(callee.rtp.decoded(from), 1000);
      assert.ok(t.ok, `the callee hears the caller's 1000 Hz tone (${t.detail})`);
    });
  });
});

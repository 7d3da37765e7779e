// A forwarded two-party call on a room clock of fake time (a fake ticker, fired
// every millisecond of it), through stalls of the thread of about 45 ms while
// both talkers are on time (their packets at most 6 ms late). At the end of a
// stall the thread reads the packets that queued meanwhile before the timer's
// catch-up ticks run (a stall in an I/O callback: the poll phase goes on with
// the sockets, the timers come after). Those packets arrived after ticks the
// clock had due but had not run: they must not count as arrived after the last
// tick that ran, or the room thinks the talker paused a tick or two after the
// catch-up, fills a silent frame and shifts the talker's audio behind it.
// The other order (a stall between two I/O passes: the catch-up ticks first,
// then the reads) is run too, and stalls longer than three frames.
// Checked as audio: each packet a listener gets is the talker's next frame,
// exactly, on one stream (sequence +1, timestamp +1 frame).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TickerClient } from '../../../src/mixer/frame-ticker.ts';
import { assertOneStream, framesHeard, makeRoom, Phone } from '../../helpers/mixer-phones.ts';

/** Each talker's packet for the tick at 20·(k+1) ms arrives this long after the tick at 20·k ms, plus its jitter. */
const ARRIVE_MS = 16;
/** The talkers' jitter, 0 to 6 ms late, a different pattern per talker. */
const LATE_A = [0, 6, 2, 5, 1, 6, 3];
const LATE_B = [4, 0, 6, 1, 3, 5];
/** Stalls per run, 400 ms apart (the run goes on 400 ms after the last). */
const STALLS = 4;

interface Run {
  a: Phone;
  b: Phone;
  stats: { mode: string; forwarded: number };
  silenceFilled: number[];
}

/**
 * STALLS stalls of `stallMs`, 400 ms apart from `stallAt` ms on, in `ms` of fake time. `readsFirst`: at the
 * end of a stall the sockets are read before the catch-up ticks run (else after them: a stall between I/O passes).
 */
function runStalled(stallMs: number, stallAt: number, readsFirst: boolean, ms: number): Run {
  let now = 0;
  let client: TickerClient | null = null;
  const ticker = {
    add(c: TickerClient): number {
      client = c;
      return 0;
    },
    remove(): void {
      client = null;
    },
  };
  const room = makeRoom({ manualClock: false, clock: { ticker, now: () => now } });
  const [a, b] = [new Phone(31), new Phone(32)];
  const pa = room.join('a', a);
  const pb = room.join('b', b);
  // Packets in flight: [arrival ms, participant, packet], in arrival order per talker.
  const inFlight: [number, typeof pa, Buffer][] = [];
  let k = 0;
  for (now = 0; now < ms; now++) {
    // The talkers send: the packet for the tick at 20·(k+1) ms leaves so as to arrive after the tick at 20·k ms.
    if (now % 20 === 0) {
      inFlight.push([now + ARRIVE_MS + LATE_A[k % LATE_A.length], pa, a.next()!]);
      inFlight.push([now + ARRIVE_MS + LATE_B[k % LATE_B.length], pb, b.next()!]);
      k++;
    }
    const since = (now - stallAt) % 400;
    const stalls = now >= stallAt && now < stallAt + STALLS * 400;
    if (stalls && since < stallMs) continue; // the thread is stalled: nothing read, no tick run
    // A stall between two I/O passes (!readsFirst) ends with the timer's catch-up ticks. Then, as every
    // millisecond, the sockets are read (all that has arrived), then the ticks due run.
    if (!readsFirst && stalls && since === stallMs) client!.fire();
    inFlight.sort((x, y) => x[0] - y[0]);
    while (inFlight.length > 0 && inFlight[0][0] <= now) {
      const [, p, pkt] = inFlight.shift()!;
      p.pushRtp(pkt, now); // the arrival time the thread knows: when it read the packet
    }
    client!.fire();
  }
  const out = { a, b, stats: { ...room.mixer.stats }, silenceFilled: [pa.silenceFilled, pb.silenceFilled] };
  room.mixer.close();
  return out;
}

/** Each listener got every frame of the talker from its first, exactly, once, in order, on one stream; no silence filled in. */
function check({ a, b, stats, silenceFilled }: Run, when: string): void {
  assert.equal(stats.mode, 'forward', when);
  for (const [listener, talker, name] of [[b, a, 'b'], [a, b, 'a']] as const) {
    const heard = framesHeard(listener, talker);
    // Before the talker's first frame the room had nothing of it: the listener got mixed silence.
    const start = heard.findIndex((f) => f >= 0);
    assert.ok(start >= 0 && start <= 2, `${when}, ${name}: ${heard.join(' ')}`);
    const frames = heard.slice(start);
    const bad = frames.map((f, i) => (f === frames[0] + i ? null : `#${i}: ${f}`)).filter((x) => x !== null);
    assert.deepEqual(bad.slice(0, 5), [], `${when}: ${name} hears each of the talker's frames in turn, none silent or left out: ${frames.join(' ')}`);
    assert.ok(frames.at(-1)! >= talker.seq - 2, `${when}: ${name} has heard the talker up to its last frames`);
    assertOneStream(listener.heard.slice(start), `${when}, ${name}`);
  }
  assert.deepEqual(silenceFilled, [0, 0], `${when}: no silence filled in for a talker that never paused`);
}

describe('two-party forwarding through thread stalls, the talkers on time (fake clock)', () => {
  for (const [stallMs, readsFirst] of [[45, true], [90, true], [45, false], [90, false]] as const) {
    const order = readsFirst ? 'the packets queued meanwhile read before the catch-up ticks' : 'the catch-up ticks run before the packets queued meanwhile are read';
    it(`stalls of ${stallMs} ms, ${order}: each listener gets every frame of the talker, once, in order, none silent`, () => {
      for (let stallAt = 300; stallAt < 320; stallAt++) check(runStalled(stallMs, stallAt, readsFirst, stallAt + (STALLS + 1) * 400), `stalls from ${stallAt} ms`);
    });
  }
});

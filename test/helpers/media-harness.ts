// Starts a real MediaEngine (real mediasoup worker) for integration tests and
// joins RtpPeers to rooms. Needs MEDIASOUP_WORKER_BIN (or media.workerBin).
import type { TestContext } from 'node:test';
import type { MediaConfig } from '../../src/config/schema.ts';
import { defaultConfig } from '../../src/config/schema.ts';
import { MediaEngine } from '../../src/media-plane/media-engine.ts';
import type { ParticipantView } from '../../src/media-plane/media-api.ts';
import type { MediaLeg } from '../../src/media-plane/media-leg.ts';
import type { MediaRoom } from '../../src/media-plane/media-room.ts';
import { createLogger } from '../../src/util/logger.ts';
import { rms } from './audio-analysis.ts';
import { RtpPeer, type RtpPeerOptions } from './rtp-peer.ts';
import { waitFor } from './wait.ts';

export function testMediaConfig(over: Partial<MediaConfig> = {}): MediaConfig {
  return { ...defaultConfig.media, workers: 1, rtpPortRange: { min: 42000, max: 42999 }, ...over };
}

export async function startEngine(over: Partial<MediaConfig> = {}): Promise<MediaEngine> {
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', pretty: false });
  return MediaEngine.create(testMediaConfig(over), log);
}

export interface JoinedPeer {
  peer: RtpPeer;
  leg: MediaLeg;
  answer: string;
}

/** A peer that offers, gets the room's answer, starts sending silence, and waits until the room routes it. */
export async function joinPeer(room: MediaRoom, opts: RtpPeerOptions & { id?: string; inbandDtmf?: boolean }): Promise<JoinedPeer> {
  const peer = await new RtpPeer(opts).bind();
  try {
    const { leg, answer } = await room.createLeg(peer.sdp(), { id: opts.id, inbandDtmf: opts.inbandDtmf });
    peer.useRemoteSdp(answer);
    const flowing = leg.waitFor('inboundssrc', 5000);
    peer.start({ kind: 'silence' });
    await flowing;
    return { peer, leg, answer };
  } catch (err) {
    // A join that failed must not leave its peer sending (the test file would wait for its timeout).
    await peer.close();
    throw err;
  }
}

/**
 * Runs a test case in a new room of `engine`. The room and every peer joined through
 * `join` (joinPeer) are closed afterwards whatever happens: a failed assertion must
 * not leave peers sending, or the test file waits for its 600 s timeout.
 */
export async function inRoom(engine: MediaEngine, name: string, body: (room: MediaRoom, join: typeof joinPeer) => Promise<void>): Promise<void> {
  const room = await engine.createRoom(name);
  const joined: JoinedPeer[] = [];
  const join: typeof joinPeer = async (r, opts) => {
    const j = await joinPeer(r, opts);
    joined.push(j);
    return j;
  };
  try {
    await body(room, join);
  } finally {
    await Promise.all(joined.map((j) => j.peer.close()));
    room.close();
  }
}

/** Waits until `peer` received `count` more packets than it had. */
export async function collect(peer: RtpPeer, count: number): Promise<Int16Array> {
  const from = peer.received.length;
  await peer.waitForPackets(from + count);
  return peer.decoded(from);
}

/** Waits until `peer` has received `frames` consecutive packets that decode to sound (rms above `minRms`). */
export async function waitForSound(peer: RtpPeer, frames = 10, minRms = 300, timeoutMs = 10000): Promise<void> {
  const start = performance.now();
  for (;;) {
    const from = Math.max(0, peer.received.length - frames);
    if (peer.received.length >= frames) {
      const pcm = peer.decoded(from);
      const n = pcm.length / frames;
      let ok = true;
      for (let i = 0; i < frames && ok; i++) ok = 32768 * rms(pcm.subarray(i * n, (i + 1) * n)) > minRms;
      if (ok) return;
    }
    if (performance.now() - start > timeoutMs) throw new Error('no steady sound received');
    await peer.waitForPackets(peer.received.length + 1, timeoutMs);
  }
}

/** Per-20 ms rms of a decoded stream, for assertion messages. */
export function envelope(pcm: Int16Array, rate: number): string {
  const n = rate / 50;
  const out: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) out.push(Math.round(32768 * rms(pcm.subarray(i, i + n))));
  return out.join(' ');
}

/**
 * Two peers talking in `room` (A a 440 Hz tone, B 1 kHz, both heard), closed (with the
 * room) when the test `t` ends, whatever happens: a failed assertion must not leave peers
 * sending (the file would wait for its timeout).
 */
export async function talkingPair(t: TestContext, room: MediaRoom): Promise<[JoinedPeer, JoinedPeer]> {
  t.after(() => room.close());
  const a = await joinPeer(room, { codec: 'PCMU', id: 'a' });
  t.after(() => a.peer.close());
  const b = await joinPeer(room, { codec: 'PCMU', id: 'b' });
  t.after(() => b.peer.close());
  a.peer.setTone(440);
  b.peer.setTone(1000);
  await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
  return [a, b];
}

/** The longest run of 20 ms frames whose level is under a third of the stream's median level. */
export function longestDropout(pcm: Int16Array, rate: number): number {
  const n = rate / 50;
  const levels: number[] = [];
  for (let i = 0; i + n <= pcm.length; i += n) levels.push(rms(pcm, i, n));
  const median = [...levels].sort((x, y) => x - y)[levels.length >> 1];
  let run = 0;
  let longest = 0;
  for (const l of levels) {
    run = l < median / 3 ? run + 1 : 0;
    longest = Math.max(longest, run);
  }
  return longest;
}

/** Polls the media thread's stats (a fresh snapshot each time, engine.nextStats()) until `ok` holds. */
export async function untilStats(engine: MediaEngine, what: string, ok: () => boolean): Promise<void> {
  await waitFor(what, async () => {
    await engine.nextStats();
    return ok();
  }, 15_000);
}

/** Waits until both listeners got `count` more packets forwarded (counted from the thread's latest snapshot). */
export async function forwarded(engine: MediaEngine, parts: ParticipantView[], count: number): Promise<void> {
  const from = parts.map((p) => p.forwarded);
  await untilStats(engine, `${count} packets forwarded`, () => parts.every((p, i) => p.forwarded >= from[i] + count));
}

/**
 * A forwarded two-party call: PCMU peers `a` (saying 440 Hz) and `b` (1000 Hz) join the room, each hears
 * the other and 10 packets were forwarded to each. `parts`: the thread's snapshot of each listener, one
 * object for the leg's life, updated by engine.nextStats().
 */
export async function forwardedPair(engine: MediaEngine, room: MediaRoom, join: typeof joinPeer): Promise<{ a: JoinedPeer; b: JoinedPeer; parts: ParticipantView[] }> {
  const a = await join(room, { codec: 'PCMU', id: 'a' });
  const b = await join(room, { codec: 'PCMU', id: 'b' });
  const parts = [a.leg.mixerParticipant!, b.leg.mixerParticipant!];
  a.peer.setTone(440);
  b.peer.setTone(1000);
  await Promise.all([waitForSound(a.peer), waitForSound(b.peer)]);
  await forwarded(engine, parts, 10);
  return { a, b, parts };
}

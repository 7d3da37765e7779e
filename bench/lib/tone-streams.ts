// The media generator of bench:siprec: every stream of every session gets one PCMU
// packet per 20 ms from one UDP socket, caught up from a monotonic clock, for
// `holdMs`. The same generator feeds Parley and rtpengine, so both servers receive
// the same packets at the same pace.
import type dgram from 'node:dgram';
import { encodeG711 } from '../../src/mixer/codecs/g711.ts';

export interface ToneStreamSet {
  /** The recorder's port for each stream (127.0.0.1). */
  ports: number[];
  seq: number[];
  ts: number[];
  ssrc: number[];
  /** Packets sent per stream. */
  sent: number[];
}

export function newStreamSet(streams: number): ToneStreamSet {
  return {
    ports: [],
    seq: new Array<number>(streams).fill(1),
    ts: new Array<number>(streams).fill(0),
    ssrc: Array.from({ length: streams }, () => (Math.random() * 2 ** 32) >>> 0),
    sent: new Array<number>(streams).fill(0),
  };
}

/** One second of 20 ms u-law frames (RTP header room in front); 440 and 1000 Hz both complete whole cycles in it. */
export function tonePayloads(hz: number): Buffer[] {
  const out: Buffer[] = [];
  for (let f = 0; f < 50; f++) {
    const pcm = new Int16Array(160);
    for (let i = 0; i < 160; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * (f * 160 + i)) / 8000));
    const b = Buffer.alloc(12 + 160);
    encodeG711('ulaw', pcm, b.subarray(12));
    out.push(b);
  }
  return out;
}

export interface StreamingResult {
  wallMs: number;
  /** How late this generator sent its frames (a stalled generator sends bursts a jitter buffer cannot take). */
  maxLagMs: number;
  lateFrames: number;
}

/** Streams payloads[k] on stream k of every set for holdMs. */
export async function streamTones(udp: dgram.Socket, sets: ToneStreamSet[], payloads: Buffer[][], holdMs: number): Promise<StreamingResult> {
  const w0 = performance.now();
  let frames = 0;
  let maxLagMs = 0;
  let lateFrames = 0;
  await new Promise<void>((done) => {
    const timer = setInterval(() => {
      const now = performance.now();
      const due = Math.floor((now - w0) / 20);
      for (; frames < due && frames < holdMs / 20; frames++) {
        const lag = now - (w0 + frames * 20);
        if (lag > maxLagMs) maxLagMs = lag;
        if (lag > 60) lateFrames++;
        for (const s of sets) {
          for (let k = 0; k < s.ports.length; k++) {
            const p = payloads[k % payloads.length]![frames % 50]!;
            p[0] = 0x80;
            p[1] = 0;
            p.writeUInt16BE(s.seq[k]! & 0xffff, 2);
            p.writeUInt32BE(s.ts[k]! >>> 0, 4);
            p.writeUInt32BE(s.ssrc[k]!, 8);
            udp.send(p, s.ports[k]!, '127.0.0.1');
            s.seq[k]!++;
            s.ts[k]! += 160;
            s.sent[k]!++;
          }
        }
      }
      if (frames >= holdMs / 20) {
        clearInterval(timer);
        done();
      }
    }, 5);
  });
  return { wallMs: performance.now() - w0, maxLagMs, lateFrames };
}

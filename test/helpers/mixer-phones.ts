// A RoomMixer on a manual clock with G.711 phones around it, for tests of
// two-party forwarding and of the listeners' RTP streams: each phone's packet
// for a frame arrives before the tick that plays it, as on a network without
// jitter. Phones say seeded noise, so every frame is unique and a repeated or
// skipped frame shows (framesHeard, promptHeard).
import assert from 'node:assert/strict';
import { G711Decoder, G711Encoder } from '../../src/mixer/codecs/g711-codec.ts';
import type { MixTick } from '../../src/mixer/frames.ts';
import type { MixerParticipant } from '../../src/mixer/mixer-participant.ts';
import { RoomMixer, type RoomMixerOptions } from '../../src/mixer/room-mixer.ts';
import { createLogger } from '../../src/util/logger.ts';
import { toneAmplitude } from './audio-analysis.ts';
import { buildRtp, dtmfPayload, parseRtp, type RtpPacket } from './rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
export const STEP = 160; // PCMU: 8000 Hz RTP clock, 20 ms frames
export const DTMF_PT = 101;

/** A G.711 phone on the far side of a leg: sends one frame per call of next(), keeps what it hears. */
export class Phone {
  readonly ssrc = (Math.random() * 0xffffffff) >>> 0;
  readonly sent = new Map<number, Buffer>();
  readonly heard: RtpPacket[] = [];
  /** False: sends nothing (hold, a pause). */
  talking = true;
  seq = 100;
  ts = 10_000;
  private seed: number;
  private readonly enc = new G711Encoder('ulaw');

  constructor(
    seed: number,
    readonly level = 3000,
    readonly pt = 0,
  ) {
    this.seed = seed;
  }

  /** The next 20 ms: a packet of noise (null while not talking; its time still passes). */
  next(): Buffer | null {
    const pcm = new Int16Array(160);
    for (let i = 0; i < pcm.length; i++) {
      this.seed = (this.seed * 1103515245 + 12345) >>> 0;
      pcm[i] = Math.round(((this.seed >>> 8) / 0xffffff - 0.5) * 2 * this.level);
    }
    const out = new Uint8Array(160);
    this.enc.encode(pcm, out);
    const ts = this.ts;
    this.ts = (this.ts + STEP) >>> 0;
    if (!this.talking) return null;
    const payload = Buffer.from(out);
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    this.sent.set(seq, payload);
    return buildRtp({ payloadType: this.pt, seq, timestamp: ts, ssrc: this.ssrc, payload });
  }

  /** One RFC 4733 packet of `digit` on the audio SSRC (it takes a sequence number of the audio stream). */
  dtmf(digit: string, eventTs: number, end: boolean, duration: number): Buffer {
    const seq = this.seq;
    this.seq = (this.seq + 1) & 0xffff;
    return buildRtp({ payloadType: DTMF_PT, seq, timestamp: eventTs, ssrc: this.ssrc, payload: dtmfPayload(digit, end, duration) });
  }

  readonly receive = (b: Buffer): void => {
    const p = parseRtp(b);
    if (p) this.heard.push({ ...p, payload: Buffer.from(p.payload) });
  };
}

export interface Room {
  mixer: RoomMixer;
  parts: Map<Phone, MixerParticipant>;
  ticks: MixTick[];
  /** `dtmfSendPt`: the listener's telephone-event payload type (relayed digits; null: it has none). */
  join(id: string, phone: Phone, sendPt?: number, dtmfSendPt?: number | null): MixerParticipant;
  /** `n` frames of room time: every talking phone's packet arrives, then the tick runs. */
  run(n: number): void;
}

export function makeRoom(o: Partial<RoomMixerOptions> = {}): Room {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 20, jitterMaxMs: 100, manualClock: true, log, ...o });
  const parts = new Map<Phone, MixerParticipant>();
  const ticks: MixTick[] = [];
  mixer.addSink({ writeTick: (t) => ticks.push(t) });
  let ssrc = 0x5000;
  return {
    mixer,
    parts,
    ticks,
    join(id, phone, sendPt = 0, dtmfSendPt = DTMF_PT) {
      const p = mixer.createParticipant(id, { codec: 'PCMU', audioPt: phone.pt, dtmfPt: DTMF_PT, dtmfClock: 8000, dtmfSendPt, sendPt, sendSsrc: ssrc++ }, phone.receive);
      parts.set(phone, p);
      p.on('close', () => parts.delete(phone));
      return p;
    },
    run(n) {
      for (let i = 0; i < n; i++) {
        for (const [phone, p] of parts) {
          const pkt = phone.next();
          if (pkt) p.pushRtp(pkt, performance.now());
        }
        mixer.runTick();
      }
    },
  };
}

/** Every packet follows the one before it: sequence +1, timestamp +1 frame, no marker after the first. */
export function assertOneStream(heard: RtpPacket[], what: string): void {
  assert.ok(heard.length > 0, `${what}: heard nothing`);
  assert.equal(new Set(heard.map((p) => p.ssrc)).size, 1, `${what}: one SSRC`);
  for (let i = 1; i < heard.length; i++) {
    const [a, b] = [heard[i - 1], heard[i]];
    assert.equal((b.seq - a.seq) & 0xffff, 1, `${what}: sequence at packet ${i} (${a.seq} → ${b.seq})`);
    assert.equal((b.timestamp - a.timestamp) >>> 0, STEP, `${what}: timestamp at packet ${i} (${a.timestamp} → ${b.timestamp})`);
    assert.equal(b.marker, false, `${what}: marker at packet ${i}`);
  }
}

export function decode(payload: Uint8Array): Int16Array {
  const out = new Int16Array(160);
  new G711Decoder('ulaw').decode(payload, out);
  return out;
}

/** The talker's frame sequence numbers that the listener's packets carry, in order (-1: none matches exactly). */
export function framesHeard(listener: Phone, talker: Phone): number[] {
  const bySeq = new Map<string, number>();
  for (const [seq, payload] of talker.sent) bySeq.set(payload.toString('hex'), seq);
  return listener.heard.map((p) => bySeq.get(p.payload.toString('hex')) ?? -1);
}

/**
 * Checks that each packet the listener got is the talker's next frame (exactly),
 * or that frame plus the prompt at `promptHz`: no frame twice, none left out.
 * (With a deep jitter buffer the first packet was mixed before the talker's
 * frames played: it may be neither.) Returns how many packets had the prompt.
 */
export function promptHeard(listener: Phone, talker: Phone, promptHz: number, name: string): number {
  const frames = framesHeard(listener, talker);
  const start = frames.findIndex((f) => f >= 0);
  assert.ok(start >= 0 && start <= 1, `${name}: ${frames.join(' ')}`);
  const first = frames[start];
  assert.equal(first, talker.sent.keys().next().value, `${name} hears the talker from its first frame`);
  let promptFrames = 0;
  listener.heard.slice(start).forEach((p, k) => {
    const expect = first + k;
    if (frames[start + k] === expect) return;
    const residual = decode(p.payload).map((v, n) => v - decode(talker.sent.get(expect)!)[n]);
    assert.ok(toneAmplitude(residual, 8000, promptHz) * 32768 > 3500, `${name}: packet ${start + k} is neither frame ${expect} nor it plus the prompt (${frames.join(' ')})`);
    promptFrames++;
  });
  return promptFrames;
}

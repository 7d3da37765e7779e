// SiprecStreams with fake legs: the first offer records what it can; a re-offer is all
// or nothing (RFC 3261 §14.2): a failing stream rolls back the streams already changed
// and closes the legs the re-offer created; streams beyond maxStreams get port 0.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MediaLeg } from '../../../src/media-plane/media-leg.ts';
import type { MediaRoom } from '../../../src/media-plane/media-room.ts';
import { SdpNegotiationError } from '../../../src/media-plane/media-errors.ts';
import { SiprecStreams } from '../../../src/call/siprec-streams.ts';
import { createLogger } from '../../../src/util/logger.ts';

class FakeLeg {
  isClosed = false;
  /** Every offer this leg took, in order. */
  readonly offers: string[] = [];
  constructor(
    readonly id: string,
    private readonly port: number,
  ) {}
  async applyOffer(sdp: string): Promise<string> {
    if (/AMR|no-port/.test(sdp)) throw new SdpNegotiationError(/AMR/.test(sdp) ? 'no common codec' : 'no port left', 304);
    this.offers.push(sdp);
    const dir = /a=inactive/.test(sdp) ? 'inactive' : 'recvonly';
    return `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio ${this.port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=${dir}\r\n`;
  }
  deafen(): void {}
  close(): void {
    this.isClosed = true;
  }
}

class FakeRoom {
  readonly legs: FakeLeg[] = [];
  async createLeg(offer: string, o: { id: string }): Promise<{ leg: FakeLeg; answer: string }> {
    const leg = new FakeLeg(o.id, 41000 + this.legs.length * 2);
    this.legs.push(leg);
    try {
      return { leg, answer: await leg.applyOffer(offer) };
    } catch (err) {
      leg.close();
      throw err;
    }
  }
}

const m = (port: number, label: number, extra: { dir?: string; codec?: string } = {}): string =>
  `m=audio ${port} RTP/AVP ${extra.codec ? 98 : 0}\r\na=rtpmap:${extra.codec ? `98 ${extra.codec}/16000` : '0 PCMU/8000'}\r\na=label:${label}\r\na=${extra.dir ?? 'sendonly'}\r\n`;
const offer = (...ms: string[]): string => `v=0\r\no=SRC 1 1 IN IP4 127.0.0.1\r\ns=SRC\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n${ms.join('')}`;
const log = createLogger({ level: 'silent', pretty: false });

async function twoStreams(maxStreams?: number): Promise<{ room: FakeRoom; streams: SiprecStreams }> {
  const room = new FakeRoom();
  const streams = new SiprecStreams(room as unknown as MediaRoom, log, maxStreams);
  await streams.apply(offer(m(5000, 1), m(5002, 2)));
  return { room, streams };
}

describe('SiprecStreams', () => {
  it('a re-offer whose second stream fails: 488, the first stream gets its previous offer back, the answer is unchanged', async () => {
    const { room, streams } = await twoStreams();
    const before = streams.answer;
    await assert.rejects(streams.apply(offer(m(5000, 1, { dir: 'inactive' }), m(5002, 2, { codec: 'AMR-WB' }), m(5004, 3))), (e: unknown) => e instanceof SdpNegotiationError && /stream 2: no common codec/.test(e.message));
    const [s0] = room.legs;
    assert.equal(s0!.offers.length, 3, 'first offer, the re-offer, then the first offer again');
    assert.match(s0!.offers[1]!, /a=inactive/);
    assert.equal(s0!.offers[2], s0!.offers[0]);
    assert.equal(room.legs.length, 2, 'the third stream was never set up');
    assert.equal(streams.answer, before);
    assert.equal(streams.allPaused, false);
    assert.deepEqual(streams.legs.map((l: MediaLeg) => l.id), ['s0', 's1']);
  });

  it('a re-offer whose new stream fails after another new one was set up: that leg is closed, no stream changes', async () => {
    const { room, streams } = await twoStreams();
    const before = streams.answer;
    await assert.rejects(streams.apply(offer(m(5000, 1), m(5002, 2, { dir: 'inactive' }), m(5004, 3), m(5006, 4, { codec: 'AMR-WB' }))), /stream 4/);
    assert.equal(room.legs.length, 4);
    assert.equal(room.legs[2]!.isClosed, true, 'the leg made for stream 3 is closed');
    assert.equal(room.legs[3]!.isClosed, true);
    assert.equal(room.legs[1]!.offers.at(-1), room.legs[1]!.offers[0], 'stream 2 got its previous offer back');
    assert.equal(streams.answer, before);
    assert.equal(streams.slotsForView.length, 2);
  });

  it('a stream removed (port 0) in a re-offer that fails keeps its leg', async () => {
    const { room, streams } = await twoStreams();
    await assert.rejects(streams.apply(offer(m(0, 1), m(5002, 2, { codec: 'AMR-WB' }))));
    assert.equal(room.legs[0]!.isClosed, false);
    await streams.apply(offer(m(0, 1), m(5002, 2)));
    assert.equal(room.legs[0]!.isClosed, true, 'closed once a re-offer succeeds');
    assert.match(streams.answer, /^m=audio 0 /m);
  });

  it('the first offer records what it can; a stream refused then stays refused in a refresh; beyond maxStreams: port 0', async () => {
    const room = new FakeRoom();
    const streams = new SiprecStreams(room as unknown as MediaRoom, log, 2);
    const first = offer(m(5000, 1), m(5002, 2, { codec: 'AMR-WB' }), m(5004, 3));
    await streams.apply(first);
    const ports = (): number[] => [...streams.answer.matchAll(/^m=audio (\d+)/gm)].map((x) => Number(x[1]));
    assert.deepEqual(ports().map((p) => p > 0), [true, false, false]);
    assert.match(streams.slotsForView[2]!.refused ?? '', /siprec\.maxStreams \(2\)/);
    const answer = streams.answer;
    await streams.apply(first);
    assert.equal(streams.answer, answer, 'a session refresh: the same answer');
  });
});

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MediaLeg } from '../../../src/media-plane/media-leg.ts';
import { inRoom, startEngine } from '../../helpers/media-harness.ts';

/** Resolves with the first `n` DTMF events of a leg; rejects after `ms`. */
function digits(leg: MediaLeg, n: number, ms = 10000): Promise<DtmfEvent[]> {
  const got: DtmfEvent[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length}/${n} digits: ${got.map((e) => e.digit).join('')}`)), ms);
    leg.on('dtmf', (e) => {
      got.push(e);
      if (got.length === n) {
        clearTimeout(timer);
        resolve(got);
      }
    });
  });
}

describe('DTMF from legs (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine();
  });
  after(() => engine.close());

  it('RFC 4733 on the audio SSRC: each digit once, in order, with its duration, repeated digits kept', () => inRoom(engine, 'dtmf-same', async (room, join) => {
    const p = await join(room, { codec: 'PCMU' });
    const seq = '1234#*00A';
    const done = digits(p.leg, seq.length);
    for (const d of seq) p.peer.queueDtmf(d, 100);
    const events = await done;
    assert.equal(events.map((e) => e.digit).join(''), seq);
    assert.ok(events.every((e) => e.source === 'rfc4733' && e.durationMs === 100), JSON.stringify(events));
    // Nothing more arrives after the last end retransmission has come in.
    const extra: DtmfEvent[] = [];
    p.leg.on('dtmf', (e) => extra.push(e));
    p.peer.queueDtmf('9', 60);
    const [last] = await digits(p.leg, 1);
    assert.equal(last.digit, '9');
    assert.deepEqual(extra.map((e) => e.digit), ['9']);
  }));

  it('RFC 4733 on a separate SSRC', () => inRoom(engine, 'dtmf-separate', async (room, join) => {
    const p = await join(room, { codec: 'PCMU' });
    const dtmfSsrc = 0x5eed0001;
    const seq = '5678';
    const done = digits(p.leg, seq.length);
    for (const d of seq) p.peer.queueDtmf(d, 120, dtmfSsrc);
    const events = await done;
    assert.equal(events.map((e) => e.digit).join(''), seq);
    assert.ok(events.every((e) => e.source === 'rfc4733'));
  }));

  it('in-band tones on a leg without telephone-event (Goertzel), once something wants the digits', () => inRoom(engine, 'dtmf-inband', async (room, join) => {
    const p = await join(room, { codec: 'PCMU', dtmfPt: null });
    assert.doesNotMatch(p.answer, /telephone-event/, 'no telephone-event offered, none answered');
    // media.inbandDtmf 'auto' (the default): no detector until asked (SipCall.wantDigits does).
    const early: DtmfEvent[] = [];
    p.leg.on('dtmf', (e) => early.push(e));
    p.peer.queueInband('5', 100, 100);
    // The tone and its gap have been through the room once the peer heard 25 more frames (500 ms) back.
    await p.peer.waitForPackets(p.peer.received.length + 25);
    assert.deepEqual(early, [], 'no in-band detection while nothing wants the digits');
    p.leg.detectInbandDtmf('auto');
    const seq = '1590*#D';
    const done = digits(p.leg, seq.length);
    for (const d of seq) p.peer.queueInband(d, 100, 80);
    const events = await done;
    assert.equal(events.map((e) => e.digit).join(''), seq);
    assert.ok(events.every((e) => e.source === 'inband' && e.durationMs >= 60 && e.durationMs <= 140), JSON.stringify(events));
    // Released again (the flow step ended): tones are not detected any more.
    p.leg.detectInbandDtmf(false);
    const before = events.length + early.length;
    const all: DtmfEvent[] = [];
    p.leg.on('dtmf', (e) => all.push(e));
    p.peer.queueInband('7', 100, 100);
    await p.peer.waitForPackets(p.peer.received.length + 25);
    assert.deepEqual(all, [], `no digit after detectInbandDtmf(false) (had ${before})`);
  }));

  it('in-band detection forced on beside RFC 4733: a key sent both ways is reported once', () => inRoom(engine, 'dtmf-both', async (room, join) => {
    const p = await join(room, { codec: 'PCMU', inbandDtmf: true });
    const events: DtmfEvent[] = [];
    p.leg.on('dtmf', (e) => events.push(e));
    const seq = '3579';
    const done = digits(p.leg, seq.length);
    for (const d of seq) {
      p.peer.queueDtmf(d, 100, 0x5eed0002, 100);
      p.peer.queueInband(d, 100, 100);
    }
    await done;
    // Wait until the last in-band tone has been through the detector too (its gap is 100 ms of silence).
    await p.peer.waitForPackets(p.peer.received.length + 15);
    assert.equal(events.map((e) => e.digit).join(''), seq, JSON.stringify(events));
  }));

  it('SIP INFO bodies handed in by call control', () => inRoom(engine, 'dtmf-info', async (room, join) => {
    const p = await join(room, { codec: 'PCMU' });
    const done = digits(p.leg, 4);
    p.leg.handleSipInfo('application/dtmf-relay', 'Signal=5\r\nDuration=160\r\n');
    // A hook flash is no digit: nothing reaches the flow for it.
    assert.equal(p.leg.handleSipInfo('application/dtmf-relay', 'Signal=!\r\nDuration=500\r\n'), null);
    p.leg.handleSipInfo('application/dtmf-relay', 'Signal=11\r\nDuration=250');
    p.leg.handleSipInfo('application/dtmf', '*');
    p.leg.handleSipInfo('application/dtmf', 'Signal=3\r\nDuration=100\r\n');
    const events = await done;
    assert.deepEqual(events, [
      { digit: '5', durationMs: 160, source: 'info' },
      { digit: '#', durationMs: 250, source: 'info' },
      { digit: '*', durationMs: 0, source: 'info' },
      { digit: '3', durationMs: 100, source: 'info' },
    ]);
    assert.throws(() => p.leg.handleSipInfo('application/dtmf-relay', 'Signal=x'), /Signal/);
  }));
});

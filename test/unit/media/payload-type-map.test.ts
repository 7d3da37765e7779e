// The payload types our later offers take from a session's bindings (RFC 3264 §8.3.2).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PayloadTypeMap } from '../../../src/media-plane/payload-type-map.ts';
import { DEFAULT_OFFER_PTS, ptKey } from '../../../src/media-plane/sdp-negotiator.ts';

const ALL = ['PCMU', 'PCMA', 'G722', 'opus'] as const;

describe('PayloadTypeMap', () => {
  it('an empty session gets our usual numbers', () => {
    assert.deepEqual(new PayloadTypeMap().offerPts(ALL), DEFAULT_OFFER_PTS);
  });

  it('keeps the numbers the peer bound, for the codec in use and for ones it only listed', () => {
    const m = new PayloadTypeMap();
    m.note(0, ptKey('PCMU', 8000));
    m.note(107, ptKey('opus', 48000));
    m.note(96, ptKey('telephone-event', 8000));
    const p = m.offerPts(ALL);
    assert.deepEqual(p.codecs, { PCMU: 0, PCMA: 8, G722: 9, opus: 107 });
    assert.deepEqual(p.dtmf, { 8000: 96, 48000: 110 });
  });

  it('never gives a number the session bound to another codec: telephone-event at 111 moves opus to a free one', () => {
    const m = new PayloadTypeMap();
    m.note(0, ptKey('PCMU', 8000));
    m.note(111, ptKey('telephone-event', 8000));
    m.note(96, ptKey('iLBC', 8000));
    const p = m.offerPts(ALL);
    assert.equal(p.dtmf[8000], 111);
    assert.equal(p.codecs.opus, 97, 'opus takes the first dynamic number nobody bound');
    assert.equal(p.dtmf[48000], 110);
    const all = [...Object.values(p.codecs), ...Object.values(p.dtmf)];
    assert.equal(new Set(all).size, all.length, 'no number twice in one offer');
    // And the next offer is the same.
    assert.deepEqual(m.offerPts(ALL), p);
  });

  it('a number bound first stays with its first codec', () => {
    const m = new PayloadTypeMap();
    m.note(101, ptKey('telephone-event', 8000));
    m.note(101, ptKey('opus', 48000));
    assert.equal(m.offerPts(ALL).codecs.opus, 111);
    assert.equal(m.offerPts(ALL).dtmf[8000], 101);
  });
});

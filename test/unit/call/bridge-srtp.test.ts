// The bridge's `srtp` (src/call/bridge-srtp.ts): which legs it offers as SDES-SRTP, and the
// fall-back to plain RTP under `follow` when the callee refuses the SRTP offer.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dialFollowingSrtp, offersSrtp, type OfferedLeg } from '../../../src/call/bridge-srtp.ts';
import type { MediaLeg } from '../../../src/media-plane/media-api.ts';
import type { BridgeSrtp } from '../../../src/call/ports.ts';
import { silentLogger } from '../../../src/util/logger.ts';

/** A leg that only knows whether it was closed (and, as the other party, whether it has SRTP). */
function fakeLeg(name: string, remoteSrtp: object | null = null): MediaLeg & { closed: boolean } {
  const leg = { name, closed: false, media: { remoteSrtp }, close: () => void (leg.closed = true) };
  return leg as unknown as MediaLeg & { closed: boolean };
}

const refusal = (status: number): Error & { status: number } => Object.assign(new Error(`${status}`), { status });

/** Dials under `mode` with the first leg SRTP; the callee answers each offer with `answers` in turn. */
async function run(mode: BridgeSrtp, answers: (number | 'ok')[], stop = (): boolean => false) {
  const first = fakeLeg('first');
  const offered: OfferedLeg = { leg: first, offer: 'srtp-offer', srtp: true };
  const made: boolean[] = [];
  const offers: string[] = [];
  const dial = async (_leg: MediaLeg, offer: string): Promise<string> => {
    offers.push(offer);
    const a = answers[offers.length - 1];
    if (a === 'ok') return 'dialog';
    throw refusal(a ?? 500);
  };
  const make = async (srtp: boolean) => {
    made.push(srtp);
    return { leg: fakeLeg('second'), offer: srtp ? 'srtp-offer' : 'plain-offer' };
  };
  const outcome = await dialFollowingSrtp(mode, offered, make, dial, stop, silentLogger()).catch((e: { status: number }) => e.status);
  return { outcome, offers, made, first, offered };
}

describe('bridge srtp', () => {
  it('offers SRTP under on always, under follow only when the other party has it, never under off', () => {
    const srtpLeg = fakeLeg('a', { suite: 'AES_CM_128_HMAC_SHA1_80' });
    const plainLeg = fakeLeg('b');
    assert.equal(offersSrtp('on', plainLeg), true);
    assert.equal(offersSrtp('follow', srtpLeg), true);
    assert.equal(offersSrtp('follow', plainLeg), false);
    assert.equal(offersSrtp('follow', null), false);
    assert.equal(offersSrtp('off', srtpLeg), false);
  });

  for (const status of [488, 606]) {
    it(`follow: an SRTP offer refused with ${status} is placed once more with plain RTP on a new leg`, async () => {
      const r = await run('follow', [status, 'ok']);
      assert.equal(r.outcome, 'dialog');
      assert.deepEqual(r.offers, ['srtp-offer', 'plain-offer']);
      assert.deepEqual(r.made, [false]);
      assert.equal(r.first.closed, true, 'the SRTP leg is closed');
      assert.equal((r.offered.leg as unknown as { name: string }).name, 'second');
      assert.equal(r.offered.srtp, false);
    });
  }

  it('follow: a refusal of the plain offer too is the outcome (no third try)', async () => {
    const r = await run('follow', [488, 488]);
    assert.equal(r.outcome, 488);
    assert.equal(r.offers.length, 2);
  });

  it('on never falls back; other failures (486, 480) are not retried', async () => {
    assert.deepEqual((await run('on', [488, 'ok'])).offers, ['srtp-offer']);
    assert.equal((await run('on', [488, 'ok'])).outcome, 488);
    for (const status of [486, 480, 403]) {
      const r = await run('follow', [status, 'ok']);
      assert.equal(r.outcome, status);
      assert.equal(r.offers.length, 1);
      assert.equal(r.first.closed, false, 'the leg is the caller\'s to close');
    }
  });

  it('follow: a call being given up (caller gone, ring time out) is not dialled again', async () => {
    const r = await run('follow', [488, 'ok'], () => true);
    assert.equal(r.outcome, 488);
    assert.deepEqual(r.offers, ['srtp-offer']);
    let calls = 0;
    const late = await run('follow', [488, 'ok'], () => ++calls > 1);
    assert.equal(late.outcome, 488, 'given up while the plain leg was made');
    assert.equal(late.offers.length, 1);
    assert.equal(late.made.length, 1);
  });
});

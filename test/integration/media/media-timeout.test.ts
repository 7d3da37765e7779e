// RTP silence detection (media.rtpTimeoutSec): a watched leg whose peer stops
// sending is reported once; a leg on hold, an unwatched leg and a leg that keeps
// sending are not; a peer that comes back re-arms the report. RTCP reports count as signs of
// life too (a phone with silence suppression may send no RTP while its user says nothing).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MediaEngine } from '../../../src/media-plane/media-engine.ts';
import type { MediaLeg } from '../../../src/media-plane/media-leg.ts';
import { inRoom, startEngine } from '../../helpers/media-harness.ts';
import { RtpPeer } from '../../helpers/rtp-peer.ts';
import { waitFor } from '../../helpers/wait.ts';

function timeouts(leg: MediaLeg): number[] {
  const seen: number[] = [];
  leg.on('mediatimeout', (s) => seen.push(s));
  return seen;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
// The room checks its legs every 500 ms (rtpTimeoutSec 1: half the timeout): once a report is
// seen, two more checks pass in this long, so a second report or a late one would be seen.
const TWO_CHECKS_MS = 1000;

describe('media timeout (real worker, real UDP)', () => {
  let engine: MediaEngine;
  before(async () => {
    engine = await startEngine({ rtpTimeoutSec: 1 });
  });
  after(() => engine.close());

  it('reports a watched leg whose peer stops sending, once, and not the others', () => inRoom(engine, 'timeout', async (room, join) => {
    const gone = await join(room, { codec: 'PCMU' });
    const alive = await join(room, { codec: 'PCMU' });
    const unwatched = await join(room, { codec: 'PCMU' });
    const held = await join(room, { codec: 'PCMU' });
    for (const j of [gone, alive, held]) j.leg.watchMedia();
    const seen = { gone: timeouts(gone.leg), alive: timeouts(alive.leg), unwatched: timeouts(unwatched.leg), held: timeouts(held.leg) };
    // The held leg's peer puts the call on hold (we become recvonly) and then sends nothing.
    await held.leg.applyOffer(held.peer.sdp([], 'sendonly'));
    held.peer.stopSending();
    gone.peer.stopSending();
    unwatched.peer.stopSending();
    // Reported within the timeout and a check; the held and unwatched legs, quiet as long, would be by two checks after.
    await waitFor('the silent leg reported', () => seen.gone.length > 0 || undefined, 5000);
    await sleep(TWO_CHECKS_MS);
    assert.equal(seen.gone.length, 1, 'the silent watched leg is reported once');
    assert.ok(seen.gone[0]! >= 1, `after at least the timeout (${seen.gone[0]} s)`);
    assert.deepEqual(seen.alive, [], 'a leg that keeps sending is not reported');
    assert.deepEqual(seen.unwatched, [], 'a leg nobody watches (not answered yet) is not reported');
    assert.deepEqual(seen.held, [], 'a leg on hold is not reported');
    // The peer comes back, then goes silent again: reported a second time.
    gone.peer.start({ kind: 'silence' });
    await sleep(1500);
    assert.equal(seen.gone.length, 1, 'no report while it sends again');
    gone.peer.stopSending();
    await waitFor('the new silence reported', () => seen.gone.length > 1 || undefined, 5000);
    await sleep(TWO_CHECKS_MS);
    assert.equal(seen.gone.length, 2, 'a new silence is reported again, once');
  }));

  it("a recording session's streams (record-only, recvonly) time out together: one quiet is not reported, all quiet are", () => inRoom(engine, 'timeout-streams', async (room) => {
    const peers = await Promise.all([0, 1].map(() => new RtpPeer({ codec: 'PCMU' }).bind()));
    try {
      const legs: MediaLeg[] = [];
      for (const [i, peer] of peers.entries()) {
        // A SIPREC stream: the SRC offers sendonly, the leg answers recvonly and only records.
        const { leg, answer } = await room.createLeg(peer.sdp([], 'sendonly'), { id: `s${i}`, recordOnlyMs: 200 });
        assert.match(answer, /a=recvonly/);
        peer.useRemoteSdp(answer);
        const flowing = leg.waitFor('inboundssrc', 5000);
        peer.start({ kind: 'silence' });
        await flowing;
        leg.watchMedia();
        legs.push(leg);
      }
      const seen = legs.map(timeouts);
      peers[1]!.stopSending();
      await sleep(2500);
      assert.deepEqual(seen, [[], []], 'one quiet stream (its party on hold) while the other flows: nothing');
      peers[0]!.stopSending();
      await waitFor('every stream reported', () => seen.every((x) => x.length > 0) || undefined, 5000);
      await sleep(TWO_CHECKS_MS);
      assert.deepEqual(seen.map((x) => x.length), [1, 1], 'every stream quiet: each reported once');
    } finally {
      for (const p of peers) await p.close();
    }
  }));

  it('a peer that sends no RTP but its RTCP reports (silence suppression) is not reported; once those stop too, it is', () => inRoom(engine, 'timeout-rtcp', async (room, join) => {
    const quiet = await join(room, { codec: 'PCMU' });
    quiet.leg.watchMedia();
    const seen = timeouts(quiet.leg);
    quiet.peer.stopSending();
    // An RTCP receiver report (RFC 3550 §6.4.2) every 400 ms, on the RTP port (rtcp-mux).
    const rr = Buffer.from([0x80, 201, 0, 1, 0x12, 0x34, 0x56, 0x78]);
    const timer = setInterval(() => quiet.peer.send(rr), 400);
    try {
      await sleep(3000);
      assert.deepEqual(seen, [], 'its RTCP keeps it alive');
      assert.ok((quiet.leg.endpoint?.stats.rtcpIn ?? 0) >= 5, `its reports were read (${quiet.leg.endpoint?.stats.rtcpIn})`);
    } finally {
      clearInterval(timer);
    }
    await waitFor('the leg reported once its RTCP stops', () => seen.length > 0 || undefined, 5000);
    await sleep(TWO_CHECKS_MS);
    assert.equal(seen.length, 1, 'no RTP nor RTCP: reported, once');
  }));
});

// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A kick (DELETE /rooms/:name/legs/:leg) or a room's DELETE that lands while a SIP caller is
// still being joined to it (its roster entry made, its legs being made, the answer not yet sent):
// the room's leg was closed before the join listened for its close, so the kick answered 200 and
// the caller stayed in the room for ever (no BYE, on the roster, in /calls), or its flow failed
// with 500. Each caller here is kicked (or its room deleted) from the moment its INVITE is sent,
// again and again until the API finds its leg, a few milliseconds later each round: every one
// must get a refusal (480 kicked, 404 room closed) or, answered, a BYE, and nothing may be left.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call } from '../helpers/api-client.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { join, Member } from './conference-members.ts';
import { assertNothingLeft } from './leftovers.ts';
import { answerBye, rawParleyPerSuite, statusOf } from './raw-dialog.ts';

const ROUNDS = 24;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Until room `name` holds a leg `legId` (its join made it; the answer may be under way yet), looked at every turn of the loop. */
async function legMade(p: RunningParley, name: string, legId: string): Promise<void> {
  for (const end = Date.now() + 5_000; Date.now() < end; ) {
    const conf = await p.app.conferences!.get(name).catch(() => undefined);
    if (conf?.room.leg(legId)) return;
    await new Promise((r) => setImmediate(r));
  }
}

/**
 * One caller of `who` joining room `kicks`; `hit` (a DELETE) is sent `delayMs` after its INVITE
 * (`afterLeg`: after the room's leg for it is made, as its answer is applied and sent), over and
 * over while it answers 404 (the leg not made yet, or the room not open yet), for at most 5 s.
 * Returns the hit's status and the caller's final response; an answered caller's BYE is awaited
 * (5 s) and answered.
 */
async function joinAndHit(p: RunningParley, who: string, delayMs: number, afterLeg: boolean, hit: string): Promise<{ hit: number; final: number; bye: boolean }> {
  const base = apiBase(p);
  const ua = await RawSipClient.open();
  const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  try {
    const d = new Member(ua, p.sipPort, who);
    const answered = d.invite(phone.sdp());
    if (afterLeg) await legMade(p, 'kicks', d.callId);
    if (delayMs > 0) await sleep(delayMs);
    let status = 404;
    for (const end = Date.now() + 5_000; status === 404 && Date.now() < end; ) status = (await call(base, 'DELETE', hit.replace('<leg>', encodeURIComponent(d.callId)))).status;
    const final = statusOf(await answered);
    let bye = false;
    if (final === 200) bye = await answerBye(ua, p.sipPort, d.callId, 5_000).then(() => true, () => false);
    return { hit: status, final, bye };
  } finally {
    ua.close();
    await phone.close();
  }
}

function checkOutcome(who: string, r: { hit: number; final: number; bye: boolean }, refusal: number): void {
  assert.equal(r.hit, 200, `${who}: the DELETE answered ${r.hit}`);
  if (r.final === 200) assert.ok(r.bye, `${who}: answered, then no BYE after the DELETE's 200`);
  else assert.equal(r.final, refusal, `${who}: refused with ${r.final}`);
}

describe('a kick or a room DELETE that lands during a SIP caller’s conference join', () => {
  const parley = rawParleyPerSuite(`
routing:
  rules: [{ name: room, match: { method: INVITE, media: audio }, actions: [{ app: conf }] }]
flows:
  conf:
    - conference: { room: kicks, joinTone: { tone: beep } }
`);

  it('a caller kicked as it joins gets 480 or a BYE, and leaves the roster and /calls', async () => {
    const p = parley();
    const stay = await join(p, 'stay', null);
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const who = `kicked${i}`;
        const r = await joinAndHit(p, who, i % 8, i >= ROUNDS / 2, '/rooms/kicks/legs/<leg>');
        checkOutcome(who, r, 480);
        const roster = (await call(apiBase(p), 'GET', '/rooms/kicks')).body.roster as { uri: string }[];
        assert.deepEqual(roster.map((e) => e.uri), ['sip:stay@127.0.0.1'], `${who}: the roster after its kick`);
        const calls = (await call(apiBase(p), 'GET', '/calls')).body as unknown[];
        assert.equal(calls.length, 1, `${who}: calls after its kick`);
      }
    } finally {
      stay.d.cseq++;
      stay.d.send('BYE');
      await stay.d.finalTo(`${stay.d.cseq} BYE`).catch(() => undefined);
      stay.ua.close();
      await stay.phone.close();
    }
    await assertNothingLeft(p);
  });

  it('a caller whose room is deleted as it joins gets 404 or a BYE, never a 500; nothing is left', async () => {
    const p = parley();
    for (let i = 0; i < ROUNDS; i++) {
      const who = `deleted${i}`;
      const r = await joinAndHit(p, who, i % 8, i >= ROUNDS / 2, '/rooms/kicks');
      checkOutcome(who, r, 404);
      await assertNothingLeft(p, 5_000);
    }
  });
});

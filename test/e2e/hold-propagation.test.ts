// A hold in a two-party bridge (calls.holdPropagation: reinvite, the default): the holder's
// re-INVITE is answered on its own leg and passed on to the other party with a re-INVITE of
// Parley's (a=sendonly or a=inactive as the holder offered, a=sendrecv on resume), as an SBC
// does; 491 glare is retried (RFC 3261 §14.1), a refusal (488) leaves the call up, a late
// answer holds back the next change until it came. The recording's sidecar marks each leg's
// holds; the API sends leg.held / leg.resumed. Raw SIP over loopback on both sides, real RTP.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comesToHear } from '../helpers/peer-hearing.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars, type Sidecar } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import { sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { bridge, closeAll, portOf, type Bridged } from './raw-bridge.ts';
import { bodyOf, flowYaml, okTo, rawParleyPerSuite, responseTo, statusOf } from './raw-dialog.ts';

const RECORDED_BRIDGE = flowYaml('gw', '    - answer\n    - record: { action: start }\n    - bridge: { ringTimeout: 10 }\n');

/** The peer's SDP with `direction` and o= version `v` (a changed session, RFC 3264 §8). */
function sdpWith(peer: RtpPeer, direction: string, v: number): string {
  return peer.sdp([], direction).replace('o=peer 1 1 ', `o=peer 1 ${v} `);
}

/** The a= direction line of an SDP body (sendrecv when none). */
function directionOf(msg: string): string {
  return /^a=(sendrecv|sendonly|recvonly|inactive)\r?$/m.exec(bodyOf(msg))?.[1] ?? 'sendrecv';
}

/** The caller re-INVITEs with `direction`: Parley's 200 (ACKed) at once, whatever the callee does. */
async function callerOffers(b: Bridged, direction: string): Promise<string> {
  b.c.cseq++;
  b.c.send('INVITE', sdpWith(b.phone, direction, b.c.cseq));
  const ok = await b.c.finalTo(`${b.c.cseq} INVITE`);
  assert.equal(statusOf(ok), 200, ok);
  b.c.send('ACK', '', b.c.cseq);
  return ok;
}

/** Parley's next re-INVITE to the callee. */
function calleeGetsReinvite(b: Bridged, ms = 10_000): Promise<string> {
  return b.calleeUa.nextMatching(/^INVITE /, ms);
}

/** The callee answers Parley's re-INVITE 200 with `direction` and waits for the ACK. */
async function calleeAnswers(b: Bridged, reinvite: string, direction: string): Promise<void> {
  b.calleeUa.send(portOf(reinvite), responseTo(reinvite, '200 OK', 'callee1', sdpWith(b.calleePhone, direction, ++b.calleeCseq), b.calleeUa.port));
  await b.calleeUa.nextMatching(/^ACK /, 10_000);
}

/** The callee's own re-INVITE with SDP in the B leg's dialog (we are its UAS: From and To swap). */
function calleeInvite(b: Bridged, sdp: string): string {
  const h = (name: string): string => new RegExp(`\\r\\n${name}:\\s*([^\\r]+)`, 'i').exec(b.invite)![1]!;
  const target = /<([^>]+)>/.exec(h('Contact'))![1]!;
  b.calleeCseq++;
  return [
    `INVITE ${target} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${b.calleeUa.port};branch=z9hG4bK-hold-${process.pid}-${b.calleeCseq}`,
    'Max-Forwards: 70',
    `From: ${h('To')};tag=callee1`,
    `To: ${h('From')}`,
    `Call-ID: ${h('Call-ID')}`,
    `CSeq: ${b.calleeCseq} INVITE`,
    `Contact: <sip:callee@127.0.0.1:${b.calleeUa.port}>`,
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

/** The callee's ACK of Parley's 200 to its last re-INVITE (calleeInvite). */
function calleeAck(b: Bridged): string {
  return calleeInvite(b, '')
    .replace(/^INVITE /, 'ACK ')
    .replace(/^CSeq: (\d+) INVITE/m, (_m, n: string) => `CSeq: ${Number(n) - 1} ACK`)
    .replace(/branch=z9hG4bK-hold-(\d+)-(\d+)/, (_m, pid: string, n: string) => `branch=z9hG4bK-hold-${pid}-${Number(n)}-ack`)
    .replace(/\r\nContent-Type: application\/sdp/, '');
}

/** The caller hangs up; the callee answers its BYE; the call ends, nothing is left; the call's final sidecar. */
async function hangUp(parley: RunningParley, b: Bridged): Promise<Sidecar> {
  b.c.cseq++;
  b.c.send('BYE');
  assert.equal(statusOf(await b.c.finalTo(`${b.c.cseq} BYE`)), 200);
  const bye = await b.calleeUa.nextMatching(/^BYE /, 10_000);
  b.calleeUa.send(portOf(bye), okTo(bye));
  await b.ended;
  await assertNothingLeft(parley);
  return waitFor('the final sidecar', () => finalSidecars(parley.recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === b.c.callId)), 15_000);
}

// One Parley for the two suites with the recorded bridge and hold passed on (each test makes its
// own calls, finds its sidecar by its Call-ID and checks that nothing of them is left): a
// Parley's start and stop cost more than the c=0.0.0.0 case.
const recordedBridge = rawParleyPerSuite(RECORDED_BRIDGE);

describe('hold in a two-party bridge, passed on (calls.holdPropagation: reinvite)', () => {
  const parley = recordedBridge;

  it('the caller holds sendonly: the callee is re-INVITEd a=sendonly and hears the music on hold; on resume a=sendrecv; the sidecar and the API mark the hold', async () => {
    let b: Bridged | null = null;
    try {
      b = await bridge(parley(), 'hold-sendonly');
      const held = await callerOffers(b, 'sendonly');
      assert.equal(directionOf(held), 'recvonly', 'Parley answers the holder recvonly');
      const heldAt = Date.now();
      const re = await calleeGetsReinvite(b);
      assert.equal(directionOf(re), 'sendonly', `the callee is offered the hold:\n${re}`);
      assert.match(re, /^CSeq:\s*\d+ INVITE\r?$/m);
      await calleeAnswers(b, re, 'recvonly');
      // Parley goes on sending the callee what the holder sends (its music on hold: the tone here).
      const music = await comesToHear(b.calleePhone, 1000, b.calleePhone.received.length);
      assert.ok(music.ok, `the held callee hears the holder's audio: ${music.detail}`);
      await waitFor('the leg.held event', () => b!.events.find((e) => e.type === 'leg.held'), 5000);
      const resumed = await callerOffers(b, 'sendrecv');
      const heldMs = Date.now() - heldAt;
      assert.equal(directionOf(resumed), 'sendrecv');
      const re2 = await calleeGetsReinvite(b);
      assert.equal(directionOf(re2), 'sendrecv', `the callee is offered the resume:\n${re2}`);
      await calleeAnswers(b, re2, 'sendrecv');
      const back = await comesToHear(b.phone, 600, b.phone.received.length);
      assert.ok(back.ok, `the caller hears the callee again: ${back.detail}`);
      await waitFor('the leg.resumed event', () => b!.events.find((e) => e.type === 'leg.resumed'), 5000);
      const meta = await hangUp(parley(), b);

      const heldEv = b.events.find((e) => e.type === 'leg.held')!;
      assert.deepEqual({ leg: heldEv.data.leg, direction: heldEv.data.direction }, { leg: 'caller', direction: 'sendonly' });
      assert.equal(b.events.find((e) => e.type === 'leg.resumed')!.data.leg, 'caller');
      assert.equal(b.events.filter((e) => e.type === 'leg.held').length, 1, 'one leg.held');
      const caller = meta.legs.find((l: { id: string }) => l.id === 'caller');
      const callee = meta.legs.find((l: { id: string }) => l.id === 'callee');
      assert.equal(caller.holds.length, 1, JSON.stringify(caller.holds));
      const h = caller.holds[0];
      assert.equal(h.direction, 'sendonly');
      assert.ok(h.end, 'the hold ended');
      const spanMs = h.end.fileMs - h.start.fileMs;
      assert.ok(Math.abs(spanMs - heldMs) < 1000, `the hold spans ${spanMs} ms of the file; the caller held ${heldMs} ms`);
      assert.ok(h.start.fileMs > 0 && h.end.fileMs <= meta.durationMs, `inside the recording: ${JSON.stringify(h)}, ${meta.durationMs} ms`);
      assert.deepEqual(callee.holds, [], 'the callee did not hold (its recvonly answer to our offer is not a hold)');
    } finally {
      await closeAll(b);
    }
  });

  it('inactive, met by 491 glare: retried after 2.1–4 s (Parley owns the B leg\'s Call-ID); the callee\'s own hold goes to the caller; a hold open at the end stays open in the sidecar', async () => {
    let b: Bridged | null = null;
    try {
      b = await bridge(parley(), 'hold-glare');
      await callerOffers(b, 'inactive');
      const re = await calleeGetsReinvite(b);
      assert.equal(directionOf(re), 'inactive', re);
      b.calleeUa.send(portOf(re), responseTo(re, '491 Request Pending', 'callee1'));
      const refusedAt = Date.now();
      const again = await calleeGetsReinvite(b, 8000);
      const waited = Date.now() - refusedAt;
      assert.ok(waited >= 2000 && waited <= 4800, `retried after ${waited} ms (RFC 3261 §14.1: 2.1–4 s)`);
      assert.equal(directionOf(again), 'inactive', again);
      assert.notEqual(/^CSeq:.*$/m.exec(again)![0], /^CSeq:.*$/m.exec(re)![0], 'a new transaction');
      await calleeAnswers(b, again, 'inactive');
      await callerOffers(b, 'sendrecv');
      await calleeAnswers(b, await calleeGetsReinvite(b), 'sendrecv');

      // The callee holds: the caller is re-INVITEd a=sendonly by Parley.
      b.calleeUa.send(portOf(b.invite), calleeInvite(b, sdpWith(b.calleePhone, 'sendonly', 50)));
      const answer = await b.calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000);
      assert.equal(directionOf(answer), 'recvonly', answer);
      const toCaller = await b.ua.nextMatching(/^INVITE /, 10_000, b.c.callId);
      assert.equal(directionOf(toCaller), 'sendonly', `the caller is offered the callee's hold:\n${toCaller}`);
      b.ua.send(parley().sipPort, responseTo(toCaller, '200 OK', 'unused', sdpWith(b.phone, 'recvonly', 60), b.ua.port));
      await b.ua.nextMatching(/^ACK /, 10_000, b.c.callId);
      const music = await comesToHear(b.phone, 600, b.phone.received.length);
      assert.ok(music.ok, `the held caller hears the callee's audio: ${music.detail}`);
      const meta = await hangUp(parley(), b);
      const caller = meta.legs.find((l: { id: string }) => l.id === 'caller');
      const callee = meta.legs.find((l: { id: string }) => l.id === 'callee');
      assert.deepEqual(caller.holds.map((h: { direction: string; end: unknown }) => [h.direction, h.end !== null]), [['inactive', true]]);
      assert.deepEqual(callee.holds.map((h: { direction: string; end: unknown }) => [h.direction, h.end]), [['sendonly', null]], 'held when the recording ended: end null');
      assert.ok(b.events.some((e) => e.type === 'leg.held' && e.data.leg === 'callee' && e.data.direction === 'sendonly'));
    } finally {
      await closeAll(b);
    }
  });

  it('the callee holds, then transfers (REFER): the caller is held, then resumed with a=sendrecv once the target answers, and hears the target', async () => {
    let b: Bridged | null = null;
    const target = await startCallee('callee.xml', 1400);
    try {
      b = await bridge(parley(), 'hold-transfer');
      // The agent holds the customer: Parley re-INVITEs the caller a=sendonly.
      b.calleeUa.send(portOf(b.invite), calleeInvite(b, sdpWith(b.calleePhone, 'sendonly', 50)));
      assert.equal(directionOf(await b.calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000)), 'recvonly');
      const hold = await b.ua.nextMatching(/^INVITE /, 10_000, b.c.callId);
      assert.equal(directionOf(hold), 'sendonly', hold);
      b.ua.send(parley().sipPort, responseTo(hold, '200 OK', 'unused', sdpWith(b.phone, 'recvonly', 60), b.ua.port));
      await b.ua.nextMatching(/^ACK /, 10_000, b.c.callId);

      // Then transfers it: REFER in the B leg's dialog; the NOTIFYs answered 200.
      const refer = calleeInvite(b, '')
        .replace(/^INVITE /, 'REFER ')
        .replace(/^CSeq: (\d+) INVITE/m, 'CSeq: $1 REFER')
        .replace(/\r\nContent-Type: application\/sdp/, `\r\nRefer-To: <sip:carol@127.0.0.1:${target.port}>`);
      b.calleeUa.send(portOf(b.invite), refer);
      assert.equal(statusOf(await b.calleeUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 10_000)), 202);
      for (;;) {
        const n = await b.calleeUa.nextMatching(/^NOTIFY /, 15_000);
        b.calleeUa.send(portOf(n), okTo(n));
        if (/^Subscription-State:\s*terminated/im.test(n)) {
          assert.match(n, /\r\n\r\nSIP\/2\.0 200 OK/, n);
          break;
        }
      }
      // The target connected: the caller is taken off hold by Parley (the target does not hold).
      const resume = await b.ua.nextMatching(/^INVITE /, 10_000, b.c.callId);
      assert.equal(directionOf(resume), 'sendrecv', `the caller is resumed:\n${resume}`);
      b.ua.send(parley().sipPort, responseTo(resume, '200 OK', 'unused', sdpWith(b.phone, 'sendrecv', 61), b.ua.port));
      await b.ua.nextMatching(/^ACK /, 10_000, b.c.callId);
      const hears = await comesToHear(b.phone, 1400, b.phone.received.length);
      assert.ok(hears.ok, `the caller hears the target: ${hears.detail}`);
      // The transferor leaves (Parley's BYE after 4 s, or its own): the caller's BYE ends the rest.
      const bye = await b.calleeUa.nextMatching(/^BYE /, 10_000);
      b.calleeUa.send(portOf(bye), okTo(bye));
      b.c.cseq++;
      b.c.send('BYE');
      assert.equal(statusOf(await b.c.finalTo(`${b.c.cseq} BYE`)), 200);
      sippOk(await target.done, 'the target');
      await b.ended;
      await assertNothingLeft(parley());
      const meta = await waitFor('the final sidecar', () => finalSidecars(parley().recordingDir).find((m) => m.legs?.some((l: { callId?: string }) => l.callId === b!.c.callId)), 15_000);
      const callee = meta.legs.find((l: { id: string }) => l.id === 'callee');
      assert.deepEqual(callee.holds.map((h: { direction: string }) => h.direction), ['sendonly'], 'the transferor\'s hold is in the sidecar');
    } finally {
      target.kill();
      await target.rtp.close();
      await closeAll(b);
    }
  });

  it('a callee that refuses (488) keeps the call; one that answers late holds back the resume until its answer', async () => {
    let b: Bridged | null = null;
    try {
      b = await bridge(parley(), 'hold-late');
      await callerOffers(b, 'sendonly');
      const re = await calleeGetsReinvite(b);
      b.calleeUa.send(portOf(re), responseTo(re, '488 Not Acceptable Here', 'callee1'));
      // The call goes on: the callee still hears the holder, and the caller is not hung up.
      const still = await comesToHear(b.calleePhone, 1000, b.calleePhone.received.length);
      assert.ok(still.ok, `the call goes on after the 488: ${still.detail}`);
      await callerOffers(b, 'sendrecv');
      await calleeAnswers(b, await calleeGetsReinvite(b), 'sendrecv');

      // Late: the callee sits on the hold offer (100 Trying, then 3 s); the caller resumes meanwhile.
      await callerOffers(b, 'sendonly');
      const slow = await calleeGetsReinvite(b);
      assert.equal(directionOf(slow), 'sendonly');
      b.calleeUa.send(portOf(slow), responseTo(slow, '100 Trying', 'callee1'));
      const resumedOk = await callerOffers(b, 'sendrecv');
      assert.equal(directionOf(resumedOk), 'sendrecv', 'the holder is answered at once');
      const early = await b.calleeUa.nextMatching(/^INVITE /, 2500).catch(() => null);
      assert.equal(early, null, `no second re-INVITE while the first is unanswered:\n${early}`);
      await calleeAnswers(b, slow, 'recvonly');
      const next = await calleeGetsReinvite(b);
      assert.equal(directionOf(next), 'sendrecv', `after the late answer, the resume:\n${next}`);
      await calleeAnswers(b, next, 'sendrecv');
      const back = await comesToHear(b.phone, 600, b.phone.received.length);
      assert.ok(back.ok, `both hear each other again: ${back.detail}`);
      const meta = await hangUp(parley(), b);
      const caller = meta.legs.find((l: { id: string }) => l.id === 'caller');
      assert.deepEqual(caller.holds.map((h: { direction: string; end: unknown }) => [h.direction, h.end !== null]), [['sendonly', true], ['sendonly', true]]);
    } finally {
      await closeAll(b);
    }
  });
});

describe('hold by c=0.0.0.0 (RFC 2543, RFC 3264 §8.4) in a two-party bridge', () => {
  const parley = recordedBridge;

  it('the holder\'s sendrecv offer on c=0.0.0.0 is a sendonly hold: the callee is offered a=sendonly, the sidecar says sendonly', async () => {
    let b: Bridged | null = null;
    try {
      b = await bridge(parley(), 'hold-zero');
      b.c.cseq++;
      b.c.send('INVITE', sdpWith(b.phone, 'sendrecv', b.c.cseq).replace(/^c=IN IP4 127\.0\.0\.1\r?$/m, 'c=IN IP4 0.0.0.0'));
      const ok = await b.c.finalTo(`${b.c.cseq} INVITE`);
      assert.equal(statusOf(ok), 200, ok);
      b.c.send('ACK', '', b.c.cseq);
      assert.equal(directionOf(ok), 'recvonly', 'Parley does not send to 0.0.0.0');
      const re = await calleeGetsReinvite(b);
      assert.equal(directionOf(re), 'sendonly', re);
      await calleeAnswers(b, re, 'recvonly');
      await callerOffers(b, 'sendrecv');
      await calleeAnswers(b, await calleeGetsReinvite(b), 'sendrecv');
      const meta = await hangUp(parley(), b);
      const caller = meta.legs.find((l: { id: string }) => l.id === 'caller');
      assert.deepEqual(caller.holds.map((h: { direction: string; end: unknown }) => [h.direction, h.end !== null]), [['sendonly', true]]);
    } finally {
      await closeAll(b);
    }
  });
});

describe('hold in a two-party bridge, not passed on (calls.holdPropagation: none)', () => {
  const parley = rawParleyPerSuite(`${RECORDED_BRIDGE}\ncalls: { holdPropagation: none }\n`);

  it('the callee gets no re-INVITE; the hold is still in the sidecar', async () => {
    let b: Bridged | null = null;
    try {
      b = await bridge(parley(), 'hold-none');
      await callerOffers(b, 'sendonly');
      const re = await b.calleeUa.nextMatching(/^INVITE /, 2000).catch(() => null);
      assert.equal(re, null, `no re-INVITE to the callee:\n${re}`);
      await callerOffers(b, 'sendrecv');
      const meta = await hangUp(parley(), b);
      const caller = meta.legs.find((l: { id: string }) => l.id === 'caller');
      assert.equal(caller.holds.length, 1);
    } finally {
      await closeAll(b);
    }
  });
});

describe('a recording started while a bridged party holds', () => {
  const parley = rawParleyPerSuite(flowYaml('gw', '    - answer\n    - bridge: { ringTimeout: 10 }\n'));

  it('the callee, held before the recording started, joins it with its details and its hold from the start', async () => {
    let b: Bridged | null = null;
    try {
      b = await bridge(parley(), 'hold-before-recording');
      b.calleeUa.send(portOf(b.invite), calleeInvite(b, sdpWith(b.calleePhone, 'sendonly', 50)));
      assert.equal(directionOf(await b.calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000)), 'recvonly');
      b.calleeUa.send(portOf(b.invite), calleeAck(b));
      const toCaller = await b.ua.nextMatching(/^INVITE /, 10_000, b.c.callId);
      b.ua.send(parley().sipPort, responseTo(toCaller, '200 OK', 'unused', sdpWith(b.phone, 'recvonly', 60), b.ua.port));
      await b.ua.nextMatching(/^ACK /, 10_000, b.c.callId);
      // The recording starts now (as POST /calls/:id/recording/start does), the callee on hold.
      const active = [...parley().app.calls!.active.values()].find((a) => a.call.callId === b!.c.callId)!;
      await active.call.startRecording({});
      await new Promise((r) => setTimeout(r, 1000));
      b.calleeUa.send(portOf(b.invite), calleeInvite(b, sdpWith(b.calleePhone, 'sendrecv', 51)));
      assert.equal(directionOf(await b.calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000)), 'sendrecv');
      b.calleeUa.send(portOf(b.invite), calleeAck(b));
      const resume = await b.ua.nextMatching(/^INVITE /, 10_000, b.c.callId);
      b.ua.send(parley().sipPort, responseTo(resume, '200 OK', 'unused', sdpWith(b.phone, 'sendrecv', 61), b.ua.port));
      await b.ua.nextMatching(/^ACK /, 10_000, b.c.callId);
      await new Promise((r) => setTimeout(r, 500));
      const meta = await hangUp(parley(), b);
      const callee = meta.legs.find((l: { id: string }) => l.id === 'callee');
      assert.ok(callee, 'the callee is in the recording');
      assert.match(String(callee.uri), /^sip:bob@127\.0\.0\.1:\d+$/, 'with its URI');
      assert.equal(callee.holds.length, 1, JSON.stringify(callee.holds));
      const h = callee.holds[0];
      assert.equal(h.direction, 'sendonly');
      assert.ok(h.start.fileMs < 100, `held from the recording's start (${h.start.fileMs} ms)`);
      assert.ok(h.end && h.end.fileMs > 700, `until its resume (${JSON.stringify(h.end)})`);
    } finally {
      await closeAll(b);
    }
  });
});

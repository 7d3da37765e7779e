// A conference member's transfer under `transfers: members`: its REFER dials the target
// into the room in its place (raw SIP members and target, real RTP peers, tones heard). A
// target that answers joins, the member leaves and the room goes on with the target; an
// attended transfer whose consultation call went through Parley sends the consulted party an
// INVITE replacing its dialog with Parley; a target that is busy leaves the member where it
// was; a Replaces naming the member's own call is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { apiBase, call } from '../helpers/api-client.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { header, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { finalSidecars } from '../helpers/sidecars.ts';
import { waitFor } from '../helpers/wait.ts';
import type { RunningParley } from '../helpers/parley-harness.ts';
import { comesToHearTone, join, type Joined } from './conference-members.ts';
import { callEnd } from './helpers.ts';
import { answerBye, bodyOf, calleeRequest, okTo, rawBridgedCall, rawParleyPerSuite, replyTo, responseTo, statusOf, TransferorPhone } from './raw-dialog.ts';

const TRANSFEROR_HZ = 1000;
const STAYER_HZ = 600;
const TARGET_HZ = 1400;

/** `m`'s REFER to `referTo` (extra header lines `extra`); its final response. */
async function refer(m: Joined, referTo: string, extra: string[] = []): Promise<string> {
  m.d.cseq++;
  const text = m.d.req('REFER').replace('Content-Length:', [`Refer-To: ${referTo}`, ...extra, 'Content-Length:'].join('\r\n'));
  m.d.sendText(text);
  return m.d.finalTo(`${m.d.cseq} REFER`);
}

/** The NOTIFYs of `m`'s transfer, each answered 200, until the one whose subscription ended; their sipfrag status lines. */
async function notifies(m: Joined): Promise<string[]> {
  const lines: string[] = [];
  for (;;) {
    const n = await m.ua.nextMatching(/^NOTIFY /, 20_000, m.d.callId);
    replyTo(m.ua, n, okTo(n));
    assert.match(header(n, 'Event'), /^refer/);
    lines.push(bodyOf(n).split('\r\n')[0]!);
    if (/^terminated/.test(header(n, 'Subscription-State'))) return lines;
  }
}

/** The `transfers` of the member's own recording (the flow records each member's call), once it is closed. */
async function recordedTransfers(p: RunningParley, m: Joined): Promise<Array<Record<string, unknown>>> {
  const meta = await waitFor('the member\'s closed recording', () => finalSidecars(p.recordingDir).find((x) => x.legs?.some((l: { callId?: string }) => l.callId === m.d.callId)), 10_000);
  return ((meta.transfers ?? []) as Array<Record<string, unknown>>).map(({ roomMs: _r, fileMs: _f, at: _a, ...t }) => t);
}

/** The member's BYE, answered 200 (its leave from the roster follows on Parley's next turn of the loop). */
async function hangUp(m: Joined): Promise<void> {
  m.d.cseq++;
  m.d.send('BYE');
  hungUp.add(m);
  assert.equal(statusOf(await m.d.finalTo(`${m.d.cseq} BYE`)), 200, `${m.who}'s BYE`);
}

/** Members whose BYE was sent: closeAll leaves them alone. */
const hungUp = new WeakSet<Joined>();

/** The target's INVITE, answered 200 with `target`'s SDP and ACKed; the target then sends its tone. */
async function targetAnswers(targetUa: RawSipClient, target: RtpPeer, tag: string): Promise<string> {
  const invite = await targetUa.nextMatching(/^INVITE /, 15_000);
  replyTo(targetUa, invite, responseTo(invite, '200 OK', tag, target.sdp(), targetUa.port));
  await targetUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
  target.useRemoteSdp(bodyOf(invite));
  target.start({ kind: 'tone', freq: TARGET_HZ, amplitude: 8000 });
  return invite;
}

/** The member that stayed leaves, then the target (the room's last member): the room closes. */
async function stayerThenTargetLeave(p: RunningParley, stayer: Joined, targetUa: RawSipClient, invite: string, tag: string): Promise<void> {
  await hangUp(stayer);
  targetUa.send(p.sipPort, calleeRequest(invite, tag, 'BYE', 1, targetUa.port));
  assert.equal(statusOf(await targetUa.nextMatching(/^SIP\/2\.0 /, 10_000, header(invite, 'Call-ID'))), 200);
  await waitFor('the room closed', async () => (await p.app.conferences!.get('xfer')) === undefined, 10_000);
}

/** Closes the members' clients and phones, the target's client and its phone. */
async function closeAll(members: Joined[], targetUa: RawSipClient, target: RtpPeer | null): Promise<void> {
  for (const m of members) {
    // A member a failed case left in the room hangs up, so the next case starts with an empty room.
    if (!hungUp.has(m)) await hangUp(m).catch(() => undefined);
    m.ua.close();
    await m.phone.close();
  }
  targetUa.close();
  await target?.close();
}

describe('a conference member transfers its place (transfers: members)', () => {
  // Calls to sip:room@… join the room; others are bridged to their To (a member's consultation call).
  const parley = rawParleyPerSuite(`
routing:
  rules:
    - { name: room, match: { method: INVITE, to: "sip:room@*" }, actions: [{ app: conf }] }
    - { name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }
flows:
  conf:
    - answer
    - record: { action: start }
    - conference: { room: xfer, transfers: members }
  gw:
    - answer
    - bridge: { ringTimeout: 10 }
`);

  let round = 0;
  async function members(): Promise<[Joined, Joined]> {
    round++;
    const transferor = await join(parley(), `transferor${round}`, TRANSFEROR_HZ);
    const stayer = await join(parley(), `stayer${round}`, STAYER_HZ);
    await waitFor('two in the room', async () => (await parley().app.conferences!.get('xfer'))?.roster.size === 2, 10_000);
    return [transferor, stayer];
  }

  it('the target is dialled into the room (Referred-By), the member is told 200 and leaves; the target and the others hear each other', async () => {
    const [transferor, stayer] = await members();
    const targetUa = await RawSipClient.open();
    const target = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      const accepted = await refer(transferor, `<sip:carol@127.0.0.1:${targetUa.port}>`, ['Referred-By: <sip:transferor@127.0.0.1>']);
      assert.equal(statusOf(accepted), 202, accepted);
      const told = notifies(transferor);
      const invite = await targetAnswers(targetUa, target, 'carol1');
      assert.equal(header(invite, 'Referred-By'), '<sip:transferor@127.0.0.1>');
      assert.match(invite.split('\r\n')[0]!, /^INVITE sip:carol@127\.0\.0\.1:\d+ /);
      assert.deepEqual(await told, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK'], 'the member hears the transfer went through');
      await hangUp(transferor);
      const conf = await parley().app.conferences!.get('xfer');
      await waitFor('the member gone, the target in', () => conf!.roster.size === 2 && conf!.roster.get(transferor.d.callId) === undefined, 10_000);
      const carol = conf!.roster.visible.find((e) => /^sip:carol@/.test(e.uri));
      assert.ok(carol, 'the target is on the roster under its own URI');
      const carolUri = `sip:carol@127.0.0.1:${targetUa.port}`;
      assert.deepEqual(await recordedTransfers(parley(), transferor), [
        { event: 'asked', leg: 'caller', target: carolUri, room: 'xfer' },
        { event: 'connected', leg: 'caller', target: carolUri, newLeg: carol.legId, room: 'xfer' },
      ], 'the member\'s recording keeps its transfer');
      const stayerHears = await comesToHearTone(stayer, TARGET_HZ);
      assert.ok(stayerHears.ok, `the member that stayed hears the target: ${TARGET_HZ} Hz at ${stayerHears.amp.toFixed(3)}`);
      const targetHears = await comesToHear(target, STAYER_HZ, 0);
      assert.ok(targetHears.ok, `the target hears the room: ${targetHears.detail}`);
      await stayerThenTargetLeave(parley(), stayer, targetUa, invite, 'carol1');
    } finally {
      await closeAll([transferor, stayer], targetUa, target);
    }
  });

  it('an attended transfer (the consultation call elsewhere) by a member that hangs up right after the 202, as many phones do: the target gets the Replaces, is dialled in and the room hears it', async () => {
    const [transferor, stayer] = await members();
    const targetUa = await RawSipClient.open();
    const target = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      // An attended transfer whose consultation call did not go through Parley: its Replaces goes into the INVITE as it is.
      const replaces = 'consult-9@10.0.0.9;to-tag=t-erin;from-tag=f-member';
      const accepted = await refer(transferor, `<sip:erin@127.0.0.1:${targetUa.port}?Replaces=${encodeURIComponent(replaces)}>`);
      assert.equal(statusOf(accepted), 202, accepted);
      await hangUp(transferor);
      const invite = await targetAnswers(targetUa, target, 'erin1');
      assert.equal(header(invite, 'Replaces'), replaces);
      const stayerHears = await comesToHearTone(stayer, TARGET_HZ);
      assert.ok(stayerHears.ok, `the member that stayed hears the target: ${TARGET_HZ} Hz at ${stayerHears.amp.toFixed(3)}`);
      const conf = await parley().app.conferences!.get('xfer');
      await waitFor('the member gone, the target in', () => conf!.roster.size === 2 && conf!.roster.get(transferor.d.callId) === undefined, 2_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(conf!.roster.visible.map((e) => e.uri))} size ${conf!.roster.size}`);
      });
      await stayerThenTargetLeave(parley(), stayer, targetUa, invite, 'erin1');
    } finally {
      await closeAll([transferor, stayer], targetUa, target);
    }
  });

  it('an attended transfer whose consultation call went through Parley: the consulted party replaces its dialog with Parley and joins the room; the consultation call ends', async () => {
    const p = parley();
    const [transferor, stayer] = await members();
    const consultUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const consultPhone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const supInRoom = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    try {
      // The member's consultation call: to the supervisor, through Parley (a bridge).
      const { c: b, invite: inviteB } = await rawBridgedCall({ sipPort: p.sipPort, name: `consult-${round}`, user: 'sup', callerUa: consultUa, calleeUa: supUa, caller: consultPhone, callee: sup, callerHz: TRANSFEROR_HZ, calleeHz: TARGET_HZ, calleeTag: 'sup1' });
      const bEnded = callEnd(p, b.callId, 30_000);
      const consulted = await comesToHear(consultPhone, TARGET_HZ, 0);
      assert.ok(consulted.ok, `the member hears the supervisor in the consultation call: ${consulted.detail}`);
      // As phones do: the Refer-To is the consultation call's remote target, its Replaces that dialog.
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      const accepted = await refer(transferor, `<${b.contact}?Replaces=${encodeURIComponent(replaces)}>`);
      assert.equal(statusOf(accepted), 202, accepted);
      const told = notifies(transferor);
      const replacing = await supUa.nextMatching(/^INVITE /, 15_000);
      assert.match(replacing, new RegExp(`^INVITE sip:callee@127\\.0\\.0\\.1:${supUa.port} SIP/2\\.0`), 'sent to the supervisor, not to the Refer-To (Parley)');
      assert.equal(header(replacing, 'Replaces'), `${header(inviteB, 'Call-ID')};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'its Replaces names the supervisor\'s own dialog with Parley');
      replyTo(supUa, replacing, responseTo(replacing, '200 OK', 'sup2', supInRoom.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000, header(replacing, 'Call-ID'));
      supInRoom.useRemoteSdp(bodyOf(replacing));
      supInRoom.start({ kind: 'tone', freq: TARGET_HZ, amplitude: 8000 });
      assert.deepEqual(await told, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
      // The supervisor hangs its replaced dialog up: the consultation call ends (its caller gets a BYE).
      supUa.send(p.sipPort, calleeRequest(inviteB, 'sup1', 'BYE', 1, supUa.port));
      await answerBye(consultUa, p.sipPort, b.callId);
      await bEnded;
      await hangUp(transferor);
      const asked = (await recordedTransfers(p, transferor))[0];
      assert.deepEqual([asked?.event, asked?.consultation], ['asked', b.callId], 'the member\'s recording names the consultation call');
      const stayerHears = await comesToHearTone(stayer, TARGET_HZ);
      assert.ok(stayerHears.ok, `the room hears the supervisor: ${TARGET_HZ} Hz at ${stayerHears.amp.toFixed(3)}`);
      const supHears = await comesToHear(supInRoom, STAYER_HZ, 0);
      assert.ok(supHears.ok, `the supervisor hears the room: ${supHears.detail}`);
      await stayerThenTargetLeave(p, stayer, supUa, replacing, 'sup2');
    } finally {
      await closeAll([transferor, stayer], supUa, supInRoom);
      consultUa.close();
      await consultPhone.close();
      await sup.close();
    }
  });

  it('a leg dialled in by the API with transfers: members: its attended transfer (the consultation call through Parley) brings the consulted party in; it stays, so Parley hangs it up 4 s later', async () => {
    const p = parley();
    round++;
    const stayer = await join(p, `stayer${round}`, STAYER_HZ);
    const danUa = await RawSipClient.open();
    const dan = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const consultUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const consultPhone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const supInRoom = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const phone = new TransferorPhone(danUa);
    try {
      const dialled = call(apiBase(p), 'POST', '/rooms/xfer/dial', { to: `sip:dan@127.0.0.1:${danUa.port}`, transfers: 'members' });
      const inviteDan = await phone.next(/^INVITE /);
      replyTo(danUa, inviteDan, responseTo(inviteDan, '200 OK', 'dan1', dan.sdp(), danUa.port));
      await phone.next(/^ACK /);
      const r = await dialled;
      assert.equal(r.status, 201, r.text);
      dan.useRemoteSdp(bodyOf(inviteDan));
      // Dan's consultation call: to the supervisor, through Parley (a bridge).
      const { c: b, invite: inviteB } = await rawBridgedCall({ sipPort: p.sipPort, name: `consult-${round}`, user: 'sup', callerUa: consultUa, calleeUa: supUa, caller: consultPhone, callee: sup, callerHz: TRANSFEROR_HZ, calleeHz: TARGET_HZ, calleeTag: 'sup1' });
      const bEnded = callEnd(p, b.callId, 30_000);
      // The REFER goes right behind the consultation call's 200 (a script's, not a person's): Parley
      // waits for that bridge to connect rather than refuse a call it does not hold yet (consultation.ts).
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      danUa.send(p.sipPort, calleeRequest(inviteDan, 'dan1', 'REFER', 1, danUa.port, [`Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>`, `Contact: <sip:dan@127.0.0.1:${danUa.port}>`]));
      assert.equal(statusOf(await phone.next(/^SIP\/2\.0 /)), 202, 'the REFER is accepted');
      const replacing = await supUa.nextMatching(/^INVITE /, 15_000);
      assert.match(replacing, new RegExp(`^INVITE sip:callee@127\\.0\\.0\\.1:${supUa.port} SIP/2\\.0`), 'sent to the supervisor, not to the Refer-To (Parley)');
      assert.equal(header(replacing, 'Replaces'), `${header(inviteB, 'Call-ID')};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'its Replaces names the supervisor\'s own dialog with Parley');
      assert.equal(header(replacing, 'Referred-By'), `<sip:dan@127.0.0.1:${danUa.port}>`, 'Referred-By: the leg (its REFER had none)');
      replyTo(supUa, replacing, responseTo(replacing, '200 OK', 'sup2', supInRoom.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000, header(replacing, 'Call-ID'));
      supInRoom.useRemoteSdp(bodyOf(replacing));
      supInRoom.start({ kind: 'tone', freq: TARGET_HZ, amplitude: 8000 });
      await phone.toldDone();
      // The supervisor hangs its replaced dialog up: the consultation call ends.
      supUa.send(p.sipPort, calleeRequest(inviteB, 'sup1', 'BYE', 1, supUa.port));
      await answerBye(consultUa, p.sipPort, b.callId);
      await bEnded;
      // The leg stays: Parley's BYE after 4 s, and the room goes on with the supervisor.
      const bye = await phone.next(/^BYE /, 8_000);
      replyTo(danUa, bye, okTo(bye));
      const conf = await p.app.conferences!.get('xfer');
      await waitFor('the leg gone, the supervisor in', () => conf!.roster.size === 2 && !conf!.roster.visible.some((e) => /sip:dan@/.test(e.uri)), 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(conf!.roster.visible.map((e) => e.uri))} size ${conf!.roster.size}`);
      });
      const stayerHears = await comesToHearTone(stayer, TARGET_HZ);
      assert.ok(stayerHears.ok, `the room hears the supervisor: ${TARGET_HZ} Hz at ${stayerHears.amp.toFixed(3)}`);
      await stayerThenTargetLeave(p, stayer, supUa, replacing, 'sup2');
    } finally {
      phone.close();
      await closeAll([stayer], supUa, supInRoom);
      danUa.close();
      consultUa.close();
      await dan.close();
      await consultPhone.close();
      await sup.close();
    }
  });

  it('a busy target: the member is told 486 and stays in the room, heard and hearing; a Replaces naming the member\'s own call is refused 403', async () => {
    const [transferor, stayer] = await members();
    const targetUa = await RawSipClient.open();
    try {
      const accepted = await refer(transferor, `<sip:dave@127.0.0.1:${targetUa.port}>`);
      assert.equal(statusOf(accepted), 202, accepted);
      const told = notifies(transferor);
      const invite = await targetUa.nextMatching(/^INVITE /, 15_000);
      assert.equal(header(invite, 'Max-Forwards'), '69', "the REFER's (and the member's INVITE's) Max-Forwards less one (RFC 7332 §3)");
      replyTo(targetUa, invite, responseTo(invite, '486 Busy Here', 'dave1'));
      await targetUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
      assert.deepEqual(await told, ['SIP/2.0 100 Trying', 'SIP/2.0 486 Busy Here']);
      const conf = await parley().app.conferences!.get('xfer');
      assert.equal(conf!.roster.size, 2, 'the two members are still there, the target is not');
      assert.ok(conf!.roster.get(transferor.d.callId), 'the member is still on the roster');
      const stayerHears = await comesToHearTone(stayer, TRANSFEROR_HZ);
      assert.ok(stayerHears.ok, `the others still hear the member: ${TRANSFEROR_HZ} Hz at ${stayerHears.amp.toFixed(3)}`);
      const transferorHears = await comesToHearTone(transferor, STAYER_HZ);
      assert.ok(transferorHears.ok, `the member still hears the room: ${STAYER_HZ} Hz at ${transferorHears.amp.toFixed(3)}`);
      const own = `${transferor.d.callId};to-tag=${transferor.d.toTag};from-tag=${tagOf(header(transferor.d.req('BYE'), 'From'))}`;
      const attended = await refer(transferor, `<sip:dave@127.0.0.1:${targetUa.port}?Replaces=${encodeURIComponent(own)}>`);
      assert.equal(statusOf(attended), 403, attended);
      assert.match(header(attended, 'Warning'), /own call/);
      for (const m of [transferor, stayer]) await hangUp(m);
      const daveUri = `sip:dave@127.0.0.1:${targetUa.port}`;
      assert.deepEqual(await recordedTransfers(parley(), transferor), [
        { event: 'asked', leg: 'caller', target: daveUri, room: 'xfer' },
        { event: 'failed', leg: 'caller', target: daveUri, status: 486, room: 'xfer' },
      ], 'the member\'s recording keeps the failed transfer (not the refused one)');
      await waitFor('the room closed', async () => (await parley().app.conferences!.get('xfer')) === undefined, 10_000);
    } finally {
      await closeAll([transferor, stayer], targetUa, null);
    }
  });
});

// A hidden (generated) or impersonating member's transfer must not tell the target who the
// member really is: the INVITE names the member only as the room shows it (nothing for a
// hidden one, the `as` identity for an impersonating one), whatever its phone's REFER said.
describe("a hidden or impersonating member's transfer (transfers: members): the target's INVITE does not name the member", () => {
  const parley = rawParleyPerSuite(`
routing:
  rules:
    - { name: hidden, match: { method: INVITE, from: "sip:hidden*" }, actions: [{ app: hidden }] }
    - { name: imp, match: { method: INVITE, from: "sip:imp*" }, actions: [{ app: imp }] }
    - { name: room, match: { method: INVITE }, actions: [{ app: conf }] }
flows:
  hidden: [answer, { conference: { room: xfer, identity: generated, transfers: members } }]
  imp: [answer, { conference: { room: xfer, identity: impersonate, as: { uri: "sip:ceo@example.com", displayName: 'The "Big" CEO' }, transfers: members } }]
  conf: [answer, { conference: { room: xfer } }]
`);

  for (const [who, referredBy] of [
    ['hidden', null],
    ['imp', '"The \\"Big\\" CEO" <sip:ceo@example.com>'],
  ] as const) {
    for (const own of [null, `<sip:${who}-real@127.0.0.1>`]) {
      it(`${who}, ${own ? "the REFER's own Referred-By" : 'a REFER without Referred-By'}: Referred-By ${referredBy ?? 'absent'}, the real URI nowhere`, async () => {
        const stayer = await join(parley(), `stayer-${who}${own ? 1 : 0}`, null);
        const member = await join(parley(), `${who}-real${own ? 1 : 0}`, null);
        const targetUa = await RawSipClient.open();
        try {
          await waitFor('two in the room', async () => (await parley().app.conferences!.get('xfer'))?.roster.size === 2, 10_000);
          const accepted = await refer(member, `<sip:carol@127.0.0.1:${targetUa.port}>`, own ? [`Referred-By: ${own}`] : []);
          assert.equal(statusOf(accepted), 202, accepted);
          const told = notifies(member);
          const invite = await targetUa.nextMatching(/^INVITE /, 15_000);
          replyTo(targetUa, invite, responseTo(invite, '486 Busy Here', 'carol1'));
          await targetUa.nextMatching(/^ACK /, 10_000, header(invite, 'Call-ID'));
          assert.deepEqual(await told, ['SIP/2.0 100 Trying', 'SIP/2.0 486 Busy Here']);
          if (referredBy === null) assert.doesNotMatch(invite, /^(Referred-By|b):/im, invite);
          else assert.equal(header(invite, 'Referred-By'), referredBy);
          assert.doesNotMatch(invite, new RegExp(`${who}-real`), 'the member\'s own URI is nowhere in the target\'s INVITE');
        } finally {
          await closeAll([member, stayer], targetUa, null);
          await waitFor('the room closed', async () => (await parley().app.conferences!.get('xfer')) === undefined, 10_000);
        }
      });
    }
  }
});

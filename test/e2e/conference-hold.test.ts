// A conference member that puts the call on hold must not play its music on hold into
// the room: three raw SIP callers over loopback, each with a real RTP peer; the holder
// goes on sending its tone while held (a=sendonly: it may send music on hold), and the
// others must not hear it until it resumes, while they go on hearing each other.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ApiEvent } from '../../src/api/event-hub.ts';
import { apiBase, call } from '../helpers/api-client.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { bodyOf, flowYaml, okTo, rawParleyPerSuite, responseTo } from './raw-dialog.ts';
import { comesToHearTone, hearing, join, reoffer, type Joined } from './conference-members.ts';

describe('a conference member on hold is left out of the mix (raw SIP, real audio)', () => {
  const parley = rawParleyPerSuite(flowYaml('conf', '    - answer\n    - conference: { room: holdroom }\n'));

  it('its music on hold (it keeps sending while a=sendonly) is not heard by the others; after resume it is again', async () => {
    const events: ApiEvent[] = [];
    parley().app.api!.hub.on('event', (e) => {
      if (e.type === 'leg.held' || e.type === 'leg.resumed') events.push(e);
    });
    const members: Joined[] = [];
    try {
      const holder = await join(parley(), 'holder', 1000);
      members.push(holder);
      const talker = await join(parley(), 'talker', 600);
      members.push(talker);
      const listener = await join(parley(), 'listener', null);
      members.push(listener);
      await waitFor('three in the room', async () => (await parley().app.conferences!.get('holdroom'))?.roster.size === 3, 10_000);
      const before = await comesToHearTone(listener, 1000);
      assert.ok(before.ok, `before the hold the listener hears the holder: 1000 Hz at ${before.amp.toFixed(3)}`);

      const held = await reoffer(holder, 'sendonly');
      assert.match(bodyOf(held), /^a=recvonly\r?$/m, 'Parley answers the hold recvonly');
      // The room took the hold (the roster marks it as the leg is muted); hearing() skips the next 200 ms, in which the mixer applies it.
      await waitFor('the hold in the roster', async () => (await parley().app.conferences!.get('holdroom'))?.roster.get(holder.d.callId)?.held === 'sendonly', 10_000);
      const during = await hearing(listener, [1000, 600]);
      const talkerHears = await hearing(talker, [1000]);
      assert.ok(during[1000]! < 0.01, `the holder's music on hold reaches the room: 1000 Hz at ${during[1000]!.toFixed(3)} of full scale at the listener`);
      assert.ok(talkerHears[1000]! < 0.01, `the talker hears the holder's music: 1000 Hz at ${talkerHears[1000]!.toFixed(3)}`);
      assert.ok(during[600]! > 0.1, `the room goes on: the listener hears the talker (600 Hz at ${during[600]!.toFixed(3)})`);
      const room = await parley().app.conferences!.get('holdroom');
      assert.equal(room!.roster.get(holder.d.callId)?.held, 'sendonly', 'the roster shows the hold');
      // The API's unmute does not bring a held leg's music back into the room.
      const unmuted = await call(apiBase(parley()), 'POST', `/rooms/holdroom/legs/${encodeURIComponent(holder.d.callId)}/unmute`);
      assert.equal(unmuted.status, 200, unmuted.text);
      // No wait: the unmute is applied when the API answers, and hearing() judges the second after the next 200 ms.
      const afterUnmute = await hearing(listener, [1000]);
      assert.ok(afterUnmute[1000]! < 0.01, `unmuted by the API while held, its music reaches the room: 1000 Hz at ${afterUnmute[1000]!.toFixed(3)}`);

      await reoffer(holder, 'sendrecv');
      const after = await comesToHearTone(listener, 1000);
      assert.ok(after.ok, `after the resume the listener hears the holder again: 1000 Hz at ${after.amp.toFixed(3)}`);
      assert.equal(room!.roster.get(holder.d.callId)?.held, undefined);
      await waitFor('leg.held and leg.resumed for the room', () => events.filter((e) => e.data.room === 'holdroom').length >= 2, 5000);
      const roomEvents = events.filter((e) => e.data.room === 'holdroom').map((e) => [e.type, e.data.callId, e.data.direction ?? null]);
      assert.deepEqual(roomEvents, [['leg.held', holder.d.callId, 'sendonly'], ['leg.resumed', holder.d.callId, null]]);
    } finally {
      for (const m of members) {
        m.d.cseq++;
        m.d.send('BYE');
        await m.d.finalTo(`${m.d.cseq} BYE`).catch(() => undefined);
        m.ua.close();
        await m.phone.close();
      }
    }
  });

  it('a member dialled out into the room (POST /rooms/:name/dial) that holds is left out of the mix too, and heard again after resume', async () => {
    const members: Joined[] = [];
    const calleeUa = await RawSipClient.open();
    const calleePhone = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    let dialled: { invite: string; cseq: number } | null = null;
    try {
      const listener = await join(parley(), 'listener2', null);
      members.push(listener);
      const talker = await join(parley(), 'talker2', 600);
      members.push(talker);
      const answered = call(apiBase(parley()), 'POST', '/rooms/holdroom/dial', { to: `sip:out@127.0.0.1:${calleeUa.port}` });
      const invite = await calleeUa.nextMatching(/^INVITE /, 15_000);
      calleeUa.send(parley().sipPort, responseTo(invite, '200 OK', 'out1', calleePhone.sdp(), calleeUa.port));
      await calleeUa.nextMatching(/^ACK /, 10_000);
      const r = await answered;
      assert.equal(r.status, 201, r.text);
      dialled = { invite, cseq: 10 };
      calleePhone.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      const before = await comesToHearTone(listener, 1400);
      assert.ok(before.ok, `the listener hears the dialled member: 1400 Hz at ${before.amp.toFixed(3)}`);

      calleeUa.send(parley().sipPort, memberInvite(dialled, calleeUa.port, calleePhone.sdp([], 'sendonly').replace('o=peer 1 1 ', 'o=peer 1 2 ')));
      const ok = await calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000);
      calleeUa.send(parley().sipPort, memberInvite(dialled, calleeUa.port, '', 'ACK'));
      assert.match(bodyOf(ok), /^a=recvonly\r?$/m);
      await waitFor('the dialled member\'s hold in the roster', async () => (await parley().app.conferences!.get('holdroom'))?.roster.all.some((e) => e.held === 'sendonly'), 10_000);
      const during = await hearing(listener, [1400, 600]);
      assert.ok(during[1400]! < 0.01, `the dialled member's music on hold reaches the room: 1400 Hz at ${during[1400]!.toFixed(3)}`);
      assert.ok(during[600]! > 0.1, `the room goes on (600 Hz at ${during[600]!.toFixed(3)})`);

      calleeUa.send(parley().sipPort, memberInvite(dialled, calleeUa.port, calleePhone.sdp([], 'sendrecv').replace('o=peer 1 1 ', 'o=peer 1 3 ')));
      await calleeUa.nextMatching(/^SIP\/2\.0 200 /, 10_000);
      calleeUa.send(parley().sipPort, memberInvite(dialled, calleeUa.port, '', 'ACK'));
      const after = await comesToHearTone(listener, 1400);
      assert.ok(after.ok, `after the resume the listener hears it again: 1400 Hz at ${after.amp.toFixed(3)}`);
    } finally {
      for (const m of members) {
        m.d.cseq++;
        m.d.send('BYE');
        await m.d.finalTo(`${m.d.cseq} BYE`).catch(() => undefined);
        m.ua.close();
        await m.phone.close();
      }
      // The room stays open while its dialled member is in it (it closes when its last leg
      // leaves): closing it sends that member its BYE (waiting for one without closing it
      // waited 10 s for nothing).
      await call(apiBase(parley()), 'DELETE', '/rooms/holdroom').catch(() => undefined);
      const bye = await calleeUa.nextMatching(/^BYE /, 10_000).catch(() => null);
      if (bye) calleeUa.send(parley().sipPort, okTo(bye));
      calleeUa.close();
      await calleePhone.close();
    }
  });
});

/** The dialled member's own re-INVITE with `sdp` (or its ACK) in the dialog Parley's `invite` made (From and To swap). */
function memberInvite(d: { invite: string; cseq: number }, port: number, sdp: string, method = 'INVITE'): string {
  const h = (name: string): string => new RegExp(`\\r\\n${name}:\\s*([^\\r]+)`, 'i').exec(d.invite)![1]!;
  if (method === 'INVITE') d.cseq++;
  return [
    `${method} ${/<([^>]+)>/.exec(h('Contact'))![1]!} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-member-${process.pid}-${method}-${d.cseq}`,
    'Max-Forwards: 70',
    `From: ${h('To')};tag=out1`,
    `To: ${h('From')}`,
    `Call-ID: ${h('Call-ID')}`,
    `CSeq: ${d.cseq} ${method}`,
    `Contact: <sip:out@127.0.0.1:${port}>`,
    'Content-Type: application/sdp',
    `Content-Length: ${Buffer.byteLength(sdp)}`,
    '',
    sdp,
  ].join('\r\n');
}

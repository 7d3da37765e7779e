// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// An attended transfer whose consultation call is on another node of the cluster: the
// customer's call (A) is on node na, bridged to the agent; the agent's consultation call to the
// supervisor (B) went to node nb. The agent REFERs A with a Replaces naming its dialog of B with
// nb. na asks Redis which node holds B, asks nb for B's other party (POST /cluster/consultation),
// and sends the transfer's INVITE straight to the supervisor, replacing the supervisor's own
// dialog with nb (RFC 3891); the supervisor hangs that up, nb ends B for the agent, and the
// customer and the supervisor hear each other through na. The same for a conference room's
// members on na (a leg dialled in by the API, a caller that joined): the supervisor is dialled
// into the room from na. Two nodes on 127.0.0.2 and .3, one redis-server, raw SIP parties on
// 127.0.0.1, real RTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/api-client.ts';
import { startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { contactUri, header, inDialogFrom, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { bodyOf, calleeRequest, okTo, RawDialog, rawBridgedCall, replacingInvite, replyTo, responseTo, statusOf, TransferorPhone, viaOf } from './raw-dialog.ts';

const yaml = `routing:
  rules:
    - { name: room, match: { method: INVITE, to: "sip:room@*" }, actions: [{ app: conf }] }
    - { name: xfer, match: { method: INVITE, media: audio }, actions: [{ app: xfer }] }
flows:
  xfer: [answer, { bridge: { ringTimeout: 10 } }]
  conf: [answer, { conference: { room: croom, transfers: members } }]
`;

/** A caller that joins the room on `node` (calls sip:room@…), its From naming `who`. */
class NodeMember extends RawDialog {
  constructor(ua: RawSipClient, node: ClusterTestNode, private readonly who: string) {
    super(ua, node.sipPort, `cluster-member-${who}`, 'room', 'sip:room@127.0.0.1', node.host);
  }

  override req(method: string, body = '', n = this.cseq, branchOf = method): string {
    return super.req(method, body, n, branchOf).replace('From: <sip:adv@127.0.0.1>', `From: <sip:${this.who}@127.0.0.1>`);
  }
}

/** Answers `req` 200 (no body) back where it came from. */
function ok(ua: RawSipClient, req: string): void {
  replyTo(ua, req, okTo(req));
}

/** A request of the dialog Parley's INVITE `invite` made, from its callee (tag `tag`), back to that node; `extra` header lines. */
function fromCallee(ua: RawSipClient, invite: string, tag: string, method: string, seq: number, extra: string[] = []): void {
  replyTo(ua, invite, calleeRequest(invite, tag, method, seq, ua.port, extra));
}

/** The ACK of a non-2xx final response `res` to `invite` (same branch, RFC 3261 §17.1.1.3). */
function ackOf(invite: string, res: string): string {
  const line = (name: string, from: string): string => new RegExp(`^${name}:[^\r\n]*`, 'im').exec(from)![0];
  const ruri = /^INVITE (\S+)/.exec(invite)![1]!;
  const seq = /^CSeq:\s*(\d+)/im.exec(invite)![1]!;
  return [`ACK ${ruri} SIP/2.0`, line('Via', invite), 'Max-Forwards: 70', line('From', invite), line('To', res), line('Call-ID', invite), `CSeq: ${seq} ACK`, 'Content-Length: 0', '', ''].join('\r\n');
}

/**
 * The supervisor's INVITE that brings it into a room on the node at `roomHost`, replacing its
 * consultation dialog with the other node (`inviteB`, its tag sup1): checked, answered with
 * `inRoom`'s SDP (tag sup2) and ACKed. Returns that INVITE.
 */
async function supervisorIntoRoom(supUa: RawSipClient, inviteB: string, inRoom: RtpPeer, roomHost: string): Promise<string> {
  const replacing = await supUa.nextMatching(/^INVITE /, 15_000);
  assert.equal(viaOf(replacing).host, roomHost, 'the INVITE comes from the room\'s node');
  assert.match(replacing, new RegExp(`^INVITE sip:callee@127\\.0\\.0\\.1:${supUa.port} SIP/2\\.0`), 'to the supervisor, not to the Refer-To (the other node)');
  assert.equal(header(replacing, 'Replaces'), `${header(inviteB, 'Call-ID')};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'replacing the supervisor\'s dialog with the other node');
  replyTo(supUa, replacing, responseTo(replacing, '200 OK', 'sup2', inRoom.sdp(), supUa.port));
  await supUa.nextMatching(/^ACK /, 10_000, header(replacing, 'Call-ID'));
  return replacing;
}

describe('cluster: an attended transfer whose consultation call is on another node (e2e)', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let hooks: WebhookReceiver;
  let na: ClusterTestNode;
  let nb: ClusterTestNode;
  const track: CallerTrack = { peers: [], kills: [] };

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
    [na, nb] = await Promise.all([startClusterNode('na', '127.0.0.2', redis.url, hooks.url, yaml), startClusterNode('nb', '127.0.0.3', redis.url, hooks.url, yaml)]);
  });

  after(async () => {
    await stopCallersAndNodes(track, [na, nb]);
    await hooks?.stop();
    await redis?.stop();
  });

  it('na sends the INVITE to the supervisor, replacing its dialog with nb; nb ends the consultation call; the customer and the supervisor hear each other', async () => {
    const customerUa = await RawSipClient.open();
    const agentAUa = await RawSipClient.open();
    const agentBUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const agentA = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const agentB = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sup2 = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    track.peers.push(customer, agentA, agentB, sup, sup2);
    try {
      // B on nb: the agent calls the supervisor.
      const { c: b, invite: inviteB } = await rawBridgedCall({ sipPort: nb.sipPort, host: nb.host, name: 'cluster-consult', user: 'sup', callerUa: agentBUa, calleeUa: supUa, caller: agentB, callee: sup, callerHz: 600, calleeHz: 1400, calleeTag: 'sup1' });
      assert.equal(viaOf(inviteB).host, nb.host, 'B\'s leg to the supervisor comes from nb');

      // A on na: the customer's call, bridged to the agent.
      const { c: a, invite: inviteA } = await rawBridgedCall({ sipPort: na.sipPort, host: na.host, name: 'cluster-customer', user: 'agent', callerUa: customerUa, calleeUa: agentAUa, caller: customer, callee: agentA, callerHz: 1000, calleeHz: 600, calleeTag: 'agentA' });
      const agent = new TransferorPhone(agentAUa);
      const before = await comesToHear(customer, 600, 0);
      assert.ok(before.ok, `the customer hears the agent: ${before.detail}`);
      const consulting = await comesToHear(agentB, 1400, 0);
      assert.ok(consulting.ok, `the agent hears the supervisor in B: ${consulting.detail}`);

      // The agent's REFER on A: Refer-To nb's Contact, Replaces its dialog of B with nb.
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      fromCallee(agentAUa, inviteA, 'agentA', 'REFER', 1, [`Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>`, `Contact: <sip:agent@127.0.0.1:${agentAUa.port}>`]);
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 202);

      const replacing = await supUa.nextMatching(/^INVITE /, 15_000);
      assert.equal(viaOf(replacing).host, na.host, 'the transfer\'s INVITE comes from na, where the customer\'s call is');
      const bLeg = header(inviteB, 'Call-ID');
      assert.equal(header(replacing, 'Replaces'), `${bLeg};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'replacing the supervisor\'s dialog with nb');
      replyTo(supUa, replacing, responseTo(replacing, '200 OK', 'sup2', sup2.sdp(), supUa.port));
      await supUa.nextMatching(/^ACK /, 10_000, header(replacing, 'Call-ID'));
      sup2.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      sup.stopSending();
      // The supervisor hangs up its old dialog with nb: nb ends B, the agent gets its BYE there.
      fromCallee(supUa, inviteB, 'sup1', 'BYE', 2);
      assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 /, 10_000, bLeg)), 200);
      ok(agentBUa, await agentBUa.nextMatching(/^BYE /, 10_000, b.callId));

      // The agent is told (NOTIFY 200 OK) and hangs A up.
      await agent.toldDone();
      fromCallee(agentAUa, inviteA, 'agentA', 'BYE', 2);
      assert.equal(statusOf(await agent.next(/^SIP\/2\.0 /)), 200);
      agent.close();

      const after = await comesToHear(customer, 1400, customer.received.length);
      assert.ok(after.ok, `the customer hears the supervisor: ${after.detail}`);
      const heard = await comesToHear(sup2, 1000, 0);
      assert.ok(heard.ok, `the supervisor hears the customer: ${heard.detail}`);
      const calls = (await call(na.api, 'GET', '/calls')).body as Array<{ id: string; node: string }>;
      assert.deepEqual(calls.map((c) => `${c.id}@${c.node}`), [`${a.callId}@na`], 'A goes on on na, B is over on nb');

      a.cseq++;
      a.send('BYE');
      assert.equal(statusOf(await a.finalTo(`${a.cseq} BYE`)), 200);
      ok(supUa, await supUa.nextMatching(/^BYE /, 10_000, header(replacing, 'Call-ID')));
      await waitFor('call.ended of A and B', () => (hooks.callEnded(a.callId).length && hooks.callEnded(b.callId).length ? true : undefined), 15_000);
    } finally {
      for (const ua of [customerUa, agentAUa, agentBUa, supUa]) ua.close();
    }
  });

  it('a leg dialled into a room on na (transfers: members) whose consultation call is on nb: na dials the supervisor into the room, replacing its dialog with nb; nb ends the consultation call', async () => {
    const danUa = await RawSipClient.open();
    const consultUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const dan = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const consultPhone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const supInRoom = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    track.peers.push(dan, consultPhone, sup, supInRoom);
    const phone = new TransferorPhone(danUa);
    try {
      const dialled = call(na.api, 'POST', '/rooms/xroom/dial', { to: `sip:dan@127.0.0.1:${danUa.port}`, transfers: 'members' });
      const inviteDan = await phone.next(/^INVITE /);
      replyTo(danUa, inviteDan, responseTo(inviteDan, '200 OK', 'dan1', dan.sdp(), danUa.port));
      await phone.next(/^ACK /);
      assert.equal((await dialled).status, 201);
      // Dan's consultation call: to the supervisor, through nb.
      const { c: b, invite: inviteB } = await rawBridgedCall({ sipPort: nb.sipPort, host: nb.host, name: 'cluster-room-consult', user: 'sup', callerUa: consultUa, calleeUa: supUa, caller: consultPhone, callee: sup, callerHz: 600, calleeHz: 1400, calleeTag: 'sup1' });
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      fromCallee(danUa, inviteDan, 'dan1', 'REFER', 1, [`Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>`, `Contact: <sip:dan@127.0.0.1:${danUa.port}>`]);
      assert.equal(statusOf(await phone.next(/^SIP\/2\.0 /)), 202);

      const replacing = await supervisorIntoRoom(supUa, inviteB, supInRoom, na.host);
      await phone.toldDone();
      // The supervisor hangs up its old dialog with nb: nb ends the consultation call.
      fromCallee(supUa, inviteB, 'sup1', 'BYE', 2);
      assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 /, 10_000, header(inviteB, 'Call-ID'))), 200);
      ok(consultUa, await consultUa.nextMatching(/^BYE /, 10_000, b.callId));
      fromCallee(danUa, inviteDan, 'dan1', 'BYE', 2);
      const room = (await call(na.api, 'GET', '/rooms/xroom')).body as { roster?: Array<{ uri: string }> };
      await waitFor('the supervisor in the room, dan gone', async () => {
        const r = (await call(na.api, 'GET', '/rooms/xroom')).body as { roster?: Array<{ uri: string }> };
        const uris = (r.roster ?? []).map((e) => e.uri);
        return uris.length === 1 && /^sip:callee@/.test(uris[0]!) ? true : undefined;
      }, 10_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(room)}`);
      });
      await call(na.api, 'DELETE', '/rooms/xroom');
      ok(supUa, await supUa.nextMatching(/^BYE /, 10_000, header(replacing, 'Call-ID')));
    } finally {
      phone.close();
      for (const ua of [danUa, consultUa, supUa]) ua.close();
    }
  });

  it('a caller that joined a room on na, whose consultation call is on nb: its REFER brings the supervisor into the room from na, replacing its dialog with nb; nb ends the consultation call; the room hears the supervisor', async () => {
    const m1Ua = await RawSipClient.open();
    const m2Ua = await RawSipClient.open();
    const consultUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const m1 = await new RtpPeer({ codec: 'PCMU' }).bind();
    const m2 = await new RtpPeer({ codec: 'PCMU' }).bind();
    const consultPhone = await new RtpPeer({ codec: 'PCMU' }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const supInRoom = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    track.peers.push(m1, m2, consultPhone, sup, supInRoom);
    try {
      // Two callers join the room on na.
      const transferor = new NodeMember(m1Ua, na, 'm1');
      const stayer = new NodeMember(m2Ua, na, 'm2');
      for (const [d, phone, hz] of [[transferor, m1, 1000], [stayer, m2, 600]] as const) {
        const ok200 = await d.invite(phone.sdp());
        assert.equal(statusOf(ok200), 200, ok200);
        phone.useRemoteSdp(bodyOf(ok200));
        phone.start({ kind: 'tone', freq: hz, amplitude: 8000 });
      }
      // The transferor's consultation call: to the supervisor, through nb.
      const { c: b, invite: inviteB } = await rawBridgedCall({ sipPort: nb.sipPort, host: nb.host, name: 'cluster-member-consult', user: 'sup', callerUa: consultUa, calleeUa: supUa, caller: consultPhone, callee: sup, callerHz: 1000, calleeHz: 1400, calleeTag: 'sup1' });
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      transferor.cseq++;
      transferor.sendText(transferor.req('REFER').replace('Content-Length:', `Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>\r\nContent-Length:`));
      const accepted = await transferor.finalTo(`${transferor.cseq} REFER`, 15_000);
      assert.equal(statusOf(accepted), 202, accepted);

      const replacing = await supervisorIntoRoom(supUa, inviteB, supInRoom, na.host);
      supInRoom.useRemoteSdp(bodyOf(replacing));
      supInRoom.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      sup.stopSending();
      // The transferor is told how it went (NOTIFY sipfrag, RFC 3515), then hangs up.
      const told: string[] = [];
      for (;;) {
        const n = await m1Ua.nextMatching(/^NOTIFY /, 15_000, transferor.callId);
        replyTo(m1Ua, n, okTo(n));
        told.push(bodyOf(n).split('\r\n')[0]!);
        if (/^terminated/.test(header(n, 'Subscription-State'))) break;
      }
      assert.deepEqual(told, ['SIP/2.0 100 Trying', 'SIP/2.0 200 OK']);
      // The supervisor hangs up its old dialog with nb: nb ends the consultation call.
      fromCallee(supUa, inviteB, 'sup1', 'BYE', 2);
      assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 /, 10_000, header(inviteB, 'Call-ID'))), 200);
      ok(consultUa, await consultUa.nextMatching(/^BYE /, 10_000, b.callId));
      transferor.cseq++;
      transferor.send('BYE');
      assert.equal(statusOf(await transferor.finalTo(`${transferor.cseq} BYE`)), 200);
      m1.stopSending();

      await waitFor('the supervisor and the stayer in the room on na', async () => {
        const r = (await call(na.api, 'GET', '/rooms/croom')).body as { roster?: Array<{ uri: string }> };
        const uris = (r.roster ?? []).map((e) => e.uri).sort();
        return uris.length === 2 && uris.some((u) => /^sip:callee@/.test(u)) && uris.some((u) => /^sip:m2@/.test(u)) ? true : undefined;
      }, 10_000);
      const hears = await comesToHear(m2, 1400, m2.received.length);
      assert.ok(hears.ok, `the stayer hears the supervisor: ${hears.detail}`);
      const supHears = await comesToHear(supInRoom, 600, 0);
      assert.ok(supHears.ok, `the supervisor hears the stayer: ${supHears.detail}`);
      const calls = (await call(nb.api, 'GET', '/calls')).body as Array<{ id: string }>;
      assert.ok(!calls.some((c) => c.id === b.callId), 'the consultation call is over on nb');

      stayer.cseq++;
      stayer.send('BYE');
      assert.equal(statusOf(await stayer.finalTo(`${stayer.cseq} BYE`)), 200);
      await call(na.api, 'DELETE', '/rooms/croom');
      ok(supUa, await supUa.nextMatching(/^BYE /, 10_000, header(replacing, 'Call-ID')));
    } finally {
      for (const ua of [m1Ua, m2Ua, consultUa, supUa]) ua.close();
    }
  });

  it('an INVITE with Replaces for a dialog on na that reaches nb is redirected to na (302), which takes it: the agent gets its BYE, the customer hears the supervisor', async () => {
    const customerUa = await RawSipClient.open();
    const agentUa = await RawSipClient.open();
    const supUa = await RawSipClient.open();
    const customer = await new RtpPeer({ codec: 'PCMU' }).bind();
    const agent = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    const sup = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    track.peers.push(customer, agent, sup);
    try {
      const { c: a, invite: inviteA } = await rawBridgedCall({ sipPort: na.sipPort, host: na.host, name: 'cluster-redirect-customer', user: 'agent', callerUa: customerUa, calleeUa: agentUa, caller: customer, callee: agent, callerHz: 1000, calleeHz: 600, calleeTag: 'agentA' });
      assert.ok((await comesToHear(customer, 600, 0)).ok, 'the customer hears the agent');

      // The supervisor's INVITE names the agent's dialog with na (its Call-ID is na's, of its B leg), but reaches nb.
      const bLeg = header(inviteA, 'Call-ID');
      const replaces = `${bLeg};to-tag=${tagOf(header(inviteA, 'From'))};from-tag=agentA`;
      const callId = `cluster-redirect-${process.pid}`;
      const first = replacingInvite(supUa, contactUri(inviteA), callId, replaces, sup.sdp(), 1);
      supUa.send(nb.sipPort, first, nb.host);
      const moved = await supUa.nextMatching(/^SIP\/2\.0 [3-6]\d\d /, 10_000, callId);
      assert.equal(statusOf(moved), 302, moved);
      supUa.send(nb.sipPort, ackOf(first, moved), nb.host);
      const contact = /^Contact:\s*<([^>]+)>/im.exec(moved)![1]!;
      assert.match(contact, new RegExp(`^sip:([^@]+@)?${na.host.replace(/\./g, '\\.')}:${na.sipPort}$`), 'to na, which holds the dialog');
      supUa.send(na.sipPort, replacingInvite(supUa, contact, callId, replaces, sup.sdp(), 2), na.host);
      const ok2 = await supUa.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 15_000, callId);
      assert.equal(statusOf(ok2), 200, ok2);
      supUa.send(na.sipPort, inDialogFrom(ok2, '', 'ACK', 2, supUa.port, contactUri(ok2), 'x', '').replace(/\r\nContent-Type: x/, ''), na.host);
      sup.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      ok(agentUa, await agentUa.nextMatching(/^BYE /, 10_000, bLeg));
      agent.stopSending();
      const after = await comesToHear(customer, 1400, customer.received.length);
      assert.ok(after.ok, `the customer hears the supervisor: ${after.detail}`);

      a.cseq++;
      a.send('BYE');
      assert.equal(statusOf(await a.finalTo(`${a.cseq} BYE`)), 200);
      ok(supUa, await supUa.nextMatching(/^BYE /, 10_000, callId));
      await waitFor('call.ended of A', () => (hooks.callEnded(a.callId).length ? true : undefined), 15_000);
    } finally {
      for (const ua of [customerUa, agentUa, supUa]) ua.close();
    }
  });
});

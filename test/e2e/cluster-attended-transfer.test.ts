// An attended transfer whose consultation call is on another node of the cluster: the
// customer's call (A) is on node na, bridged to the agent; the agent's consultation call to the
// supervisor (B) went to node nb. The agent REFERs A with a Replaces naming its dialog of B with
// nb. na asks Redis which node holds B, asks nb for B's other party (POST /cluster/consultation),
// and sends the transfer's INVITE straight to the supervisor, replacing the supervisor's own
// dialog with nb (RFC 3891); the supervisor hangs that up, nb ends B for the agent, and the
// customer and the supervisor hear each other through na. Two nodes on 127.0.0.2 and .3, one
// redis-server, raw SIP parties on 127.0.0.1, real RTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/api-client.ts';
import { startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { contactUri, header, inDialogFrom, RawSipClient, tagOf } from '../helpers/raw-sip-client.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { bodyOf, okTo, RawDialog, responseTo, statusOf } from './raw-dialog.ts';

const yaml = `routing:
  rules: [{ name: xfer, match: { method: INVITE, media: audio }, actions: [{ app: xfer }] }]
flows:
  xfer: [answer, { bridge: { ringTimeout: 10 } }]
`;

/** The host and port a request came from (its top Via). */
function sender(req: string): { host: string; port: number } {
  const m = /^Via:\s*SIP\/2\.0\/UDP ([^:;\s]+):(\d+)/im.exec(req)!;
  return { host: m[1]!, port: Number(m[2]) };
}

/** Answers `req` 200 (no body) back where it came from. */
function ok(ua: RawSipClient, req: string): void {
  const from = sender(req);
  ua.send(from.port, okTo(req), from.host);
}

/** A request of the dialog Parley's INVITE `invite` made, from its callee (tag `tag`), back to that node; `extra` header lines. */
function fromCallee(ua: RawSipClient, invite: string, tag: string, method: string, seq: number, extra: string[] = []): void {
  const to = sender(invite);
  ua.send(to.port, inDialogFrom(invite, tag, method, seq, ua.port, contactUri(invite), 'x', '').replace(/\r\nContent-Type: x/, extra.map((l) => `\r\n${l}`).join('')), to.host);
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
      const b = new RawDialog(agentBUa, nb.sipPort, 'cluster-consult', 'sup', `sip:sup@127.0.0.1:${supUa.port}`, nb.host);
      b.send('INVITE', agentB.sdp());
      const okB = await b.final(15_000);
      assert.equal(statusOf(okB), 200, okB);
      b.confirm(okB);
      b.send('ACK', '', 1);
      agentB.useRemoteSdp(bodyOf(okB));
      const inviteB = await supUa.nextMatching(/^INVITE /, 15_000);
      assert.equal(sender(inviteB).host, nb.host, 'B\'s leg to the supervisor comes from nb');
      supUa.send(sender(inviteB).port, responseTo(inviteB, '200 OK', 'sup1', sup.sdp(), supUa.port), nb.host);
      await supUa.nextMatching(/^ACK /, 10_000);
      sup.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      agentB.start({ kind: 'tone', freq: 600, amplitude: 8000 });

      // A on na: the customer's call, bridged to the agent.
      const a = new RawDialog(customerUa, na.sipPort, 'cluster-customer', 'agent', `sip:agent@127.0.0.1:${agentAUa.port}`, na.host);
      a.send('INVITE', customer.sdp());
      const okA = await a.final(15_000);
      assert.equal(statusOf(okA), 200, okA);
      a.confirm(okA);
      a.send('ACK', '', 1);
      customer.useRemoteSdp(bodyOf(okA));
      customer.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
      const inviteA = await agentAUa.nextMatching(/^INVITE /, 15_000);
      agentAUa.send(sender(inviteA).port, responseTo(inviteA, '200 OK', 'agentA', agentA.sdp(), agentAUa.port), na.host);
      await agentAUa.nextMatching(/^ACK /, 10_000);
      agentA.start({ kind: 'tone', freq: 600, amplitude: 8000 });
      const before = await comesToHear(customer, 600, 0);
      assert.ok(before.ok, `the customer hears the agent: ${before.detail}`);
      const consulting = await comesToHear(agentB, 1400, 0);
      assert.ok(consulting.ok, `the agent hears the supervisor in B: ${consulting.detail}`);

      // The agent's REFER on A: Refer-To nb's Contact, Replaces its dialog of B with nb.
      const replaces = `${b.callId};to-tag=${b.toTag};from-tag=${tagOf(header(b.req('BYE'), 'From'))}`;
      fromCallee(agentAUa, inviteA, 'agentA', 'REFER', 1, [`Refer-To: <${b.contact}?Replaces=${encodeURIComponent(replaces)}>`, `Contact: <sip:agent@127.0.0.1:${agentAUa.port}>`]);
      const notifies: string[] = [];
      const accepted = await waitFor('the REFER\'s answer', async () => {
        const m = await agentAUa.next(10_000);
        if (/^NOTIFY /.test(m)) {
          notifies.push(m);
          ok(agentAUa, m);
          return undefined;
        }
        return /^SIP\/2\.0 /.test(m) ? m : undefined;
      }, 15_000);
      assert.equal(statusOf(accepted), 202);

      const replacing = await supUa.nextMatching(/^INVITE /, 15_000);
      assert.equal(sender(replacing).host, na.host, 'the transfer\'s INVITE comes from na, where the customer\'s call is');
      const bLeg = header(inviteB, 'Call-ID');
      assert.equal(header(replacing, 'Replaces'), `${bLeg};to-tag=sup1;from-tag=${tagOf(header(inviteB, 'From'))}`, 'replacing the supervisor\'s dialog with nb');
      supUa.send(sender(replacing).port, responseTo(replacing, '200 OK', 'sup2', sup2.sdp(), supUa.port), na.host);
      await supUa.nextMatching(/^ACK /, 10_000, header(replacing, 'Call-ID'));
      sup2.start({ kind: 'tone', freq: 1400, amplitude: 8000 });
      sup.stopSending();
      // The supervisor hangs up its old dialog with nb: nb ends B, the agent gets its BYE there.
      fromCallee(supUa, inviteB, 'sup1', 'BYE', 2);
      assert.equal(statusOf(await supUa.nextMatching(/^SIP\/2\.0 /, 10_000, bLeg)), 200);
      ok(agentBUa, await agentBUa.nextMatching(/^BYE /, 10_000, b.callId));

      // The agent is told (NOTIFY 200 OK) and hangs A up.
      await waitFor('NOTIFY 200 OK', async () => {
        if (notifies.some((n) => /^SIP\/2\.0 200 OK/m.test(bodyOf(n)))) return true;
        const m = await agentAUa.next(5000).catch(() => null);
        if (m && /^NOTIFY /.test(m)) {
          notifies.push(m);
          ok(agentAUa, m);
        }
        return undefined;
      }, 15_000);
      fromCallee(agentAUa, inviteA, 'agentA', 'BYE', 2);
      assert.equal(statusOf(await agentAUa.nextMatching(/^SIP\/2\.0 /, 10_000)), 200);

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
});

// parley-tests: beside
// Every port of media.rtpPortRange taken: a new call is refused with 503 and Retry-After (RFC
// 3261 §21.5.4: a proxy then tries another server, as it does for security.maxCalls), not
// 500; a bridge whose callee's leg finds no port fails with 503 (its fallback can run), not
// a flow error's 500. Ports come back as calls end. (Ports 31200–31203, below Linux's
// ephemeral range and outside the default range, so no other socket takes them.)
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { tempApiYaml } from '../helpers/api-client.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { assertNothingLeft } from './leftovers.ts';
import { flowYaml, offerSdp, RawDialog, statusOf } from './raw-dialog.ts';


/** Two RTP/RTCP pairs (31200, 31202), one media thread. */
const TWO_PAIRS = { mediaThreads: 1, media: 'rtpPortRange: { min: 31200, max: 31204 }' };

describe('no free RTP port', () => {
  const parley = parleyPerSuite(flowYaml('hold', '    - answer\n    - play: { tone: "silence:30000" }\n') + tempApiYaml('ports-'), TWO_PAIRS);

  it('a new call gets 503 with Retry-After while every port is taken; one gets through once a call ends', async () => {
    const p = parley();
    const ua = await RawSipClient.open();
    try {
      const held = [new RawDialog(ua, p.sipPort, `ports-a-${Date.now()}`), new RawDialog(ua, p.sipPort, `ports-b-${Date.now()}`)];
      for (const [i, c] of held.entries()) assert.equal(statusOf(await c.invite(offerSdp(41000 + 2 * i))), 200, `call ${i + 1} takes a pair`);
      const refused = new RawDialog(ua, p.sipPort, `ports-c-${Date.now()}`);
      const res = await refused.invite(offerSdp(41010));
      assert.match(res, /^SIP\/2\.0 503 /, res.split('\r\n')[0]);
      assert.match(res, /\r\nRetry-After: *\d+/i, 'with Retry-After');
      // The first call ends: its pair is free again.
      held[0]!.cseq = 2;
      held[0]!.send('BYE');
      assert.equal(statusOf(await held[0]!.finalTo('2 BYE')), 200);
      const next = new RawDialog(ua, p.sipPort, `ports-d-${Date.now()}`);
      assert.equal(statusOf(await next.invite(offerSdp(41012))), 200, 'a call gets through once a port is free');
      for (const c of [held[1]!, next]) {
        c.cseq = 2;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo('2 BYE')), 200);
      }
      await assertNothingLeft(p);
    } finally {
      ua.close();
    }
  });
});

describe('no free RTP port for a bridged callee', () => {
  const parley = parleyPerSuite(flowYaml('gw', '    - answer: { early: true }\n    - bridge: { ringTimeout: 10 }\n') + tempApiYaml('ports-'), { mediaThreads: 1, media: 'rtpPortRange: { min: 31200, max: 31202 }' });

  it("the bridge fails with 503 (the caller's INVITE gets it), not a flow error's 500", async () => {
    const p = parley();
    const ua = await RawSipClient.open();
    const callee = await RawSipClient.open();
    try {
      const c = new RawDialog(ua, p.sipPort, `ports-bridge-${Date.now()}`, 'bob', `sip:bob@127.0.0.1:${callee.port}`);
      const res = await c.invite(offerSdp(41020));
      assert.match(res, /^SIP\/2\.0 503 /, res.split('\r\n')[0]);
      await assertNothingLeft(p);
    } finally {
      ua.close();
      callee.close();
    }
  });
});

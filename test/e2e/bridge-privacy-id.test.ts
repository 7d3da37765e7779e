// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// RFC 3325 §7 on the bridge: a caller's `Privacy: id` keeps the identity Parley asserts for it
// (the upstream's P-Asserted-Identity, else its From) from a B leg whose next hop is outside
// the trust domain (security.upstreams: 127.0.0.1 here; the callee at 127.0.0.2 is outside), and
// lets it go to one inside. The Privacy header goes on either way. Raw UDP caller and callees.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { headerValues, RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { RawDialog, replyTo, responseTo, statusOf } from './raw-dialog.ts';

const yaml = `
security: { upstreams: [127.0.0.1] }
routing:
  rules: [{ name: gw, match: { method: INVITE, media: audio }, actions: [{ app: gw }] }]
flows:
  gw:
    - bridge: { ringTimeout: 10 }
`;

const ASSERTED = '"Alice" <sip:+15550100@carrier.example>';

describe('the B leg and the caller\'s Privacy: id (RFC 3325 §7)', () => {
  let parley: RunningParley;
  let ua: RawSipClient;
  let phone: RtpPeer;
  let n = 0;

  before(async () => {
    parley = await startParley(yaml);
    ua = await RawSipClient.open('127.0.0.1');
    phone = await new RtpPeer({ codec: 'PCMU' }).bind();
  });

  after(async () => {
    ua?.close();
    await phone?.close();
    await parley?.stop();
  });

  /** A call with `privacy` to a callee on `host`; the B leg's INVITE (answered 486, the caller's 486 awaited). */
  async function bLeg(host: string, privacy: string): Promise<string> {
    const callee = await RawSipClient.open(host);
    try {
      const c = new RawDialog(ua, parley.sipPort, `privacy${++n}`, 'bob', `sip:bob@${host}:${callee.port}`);
      c.sendText(c.req('INVITE', phone.sdp()).replace('\r\nMax-Forwards: 70', `\r\nMax-Forwards: 70\r\nP-Asserted-Identity: ${ASSERTED}\r\nPrivacy: ${privacy}`));
      const invite = await callee.nextMatching(/^INVITE /, 10_000);
      replyTo(callee, invite, responseTo(invite, '486 Busy Here', 'busy'));
      await callee.nextMatching(/^ACK /, 5000);
      const final = await c.final();
      assert.equal(statusOf(final), 486, final);
      c.ackFailure(1);
      return invite;
    } finally {
      callee.close();
    }
  }

  it('to a callee outside the trust domain: no P-Asserted-Identity, Privacy: id kept', async () => {
    const invite = await bLeg('127.0.0.2', 'id');
    assert.deepEqual(headerValues(invite, 'P-Asserted-Identity'), [], invite);
    assert.deepEqual(headerValues(invite, 'Privacy'), ['id']);
  });

  it('to a callee inside it (an upstream): the asserted identity goes on; without id, to anyone', async () => {
    const inside = await bLeg('127.0.0.1', 'id');
    assert.deepEqual(headerValues(inside, 'P-Asserted-Identity'), [ASSERTED], inside);
    const outside = await bLeg('127.0.0.2', 'header');
    assert.deepEqual(headerValues(outside, 'P-Asserted-Identity'), [ASSERTED], outside);
  });
});

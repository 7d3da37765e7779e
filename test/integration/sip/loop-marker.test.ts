// Loops, from outside. The loop marker: a caller that writes X-Parley-Leg: b2b (or a stamp it
// made up) must not have its INVITE proxied past the rules that record it; Parley's own stamp
// is what the rule chain takes for one of its legs (unit loop-marker). The header-edit relay:
// a rule that edits headers and proxies to Parley itself gets 482 at the first return.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { header, RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { freePort } from '../../helpers/free-port.ts';
import { startParley, type RunningParley } from '../../helpers/parley-harness.ts';

const yaml = `
routing:
  rules:
    - name: self-edit
      match: { requestUri: "sip:selfedit@*" }
      actions: [{ headers: { set: { Subject: tagged } } }, { proxy: null }]
    - name: gateway
      match: { method: INVITE }
      actions: [{ app: busy }]
flows:
  busy: [{ hangup: { status: 486 } }]
`;

describe('the loop marker from a caller', () => {
  let parley: RunningParley;
  before(async () => {
    parley = await startParley(yaml);
  });
  after(() => parley?.stop());

  /** The status line of the final response to an INVITE to `user` (parley: the request's own) with `headers`. */
  async function finalTo(user: string, headers: Record<string, string>, ms: number): Promise<string> {
    const ua = await RawSipClient.open();
    try {
      const r = request('INVITE', ua.port, headers);
      ua.send(parley.sipPort, r.text.replace('INVITE sip:parley@127.0.0.1 ', `INVITE sip:${user} `));
      return (await ua.nextMatching(/^SIP\/2\.0 [2-6]/, ms, headers['Call-ID'] ?? r.callId)).split('\r\n')[0]!;
    } finally {
      ua.close();
    }
  }

  for (const marker of ['b2b', 'b2b;t=1765000000;sig=AAAAAAAAAAAAAAAAAAAAAA']) {
    it(`X-Parley-Leg: ${marker}: the INVITE goes to the app like any other`, async () => {
      assert.match(await finalTo('parley@127.0.0.1', { 'X-Parley-Leg': marker }, 5000), /^SIP\/2\.0 486 /);
    });
  }

  it('a rule that edits headers and proxies to Parley itself: 482 when the relayed request comes back, not 70 relays and a 483', async () => {
    assert.match(await finalTo(`selfedit@127.0.0.1:${parley.sipPort}`, { Subject: 'x' }, 10_000), /^SIP\/2\.0 482 /);
  });

  it("Parley's own stamp, on the leg it was made for while Parley places it: proxied on (to its Request-URI, here nobody: an error response, not the app's 486)", async () => {
    const leg: Record<string, string> = { 'X-Parley-Leg': parley.app.routing.marker.value, From: '<sip:raw@127.0.0.1>' };
    const placed = parley.app.routing.marker.seal(leg);
    try {
      assert.doesNotMatch(await finalTo('nobody@127.0.0.1:9', leg, 40_000), /^SIP\/2\.0 486 /);
    } finally {
      placed();
    }
  });
});

const RAW_SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n';

/** A response to the request `req` (its Vias, From, To with `toTag`, Call-ID and CSeq). */
function responseTo(req: string, status: string, toTag: string): string {
  const vias = req.split('\r\n').filter((l) => /^(Via|v):/i.test(l));
  return [`SIP/2.0 ${status}`, ...vias, `From: ${header(req, 'From')}`, `To: ${header(req, 'To')};tag=${toTag}`, `Call-ID: ${header(req, 'Call-ID')}`, `CSeq: ${header(req, 'CSeq')}`, 'Content-Length: 0', '', ''].join('\r\n');
}

// Behind a proxy that reroutes every INVITE to Parley (here Parley is its own outbound proxy),
// a B leg comes back marked and is proxied on to the callee, who then holds the marker: it must
// not take the callee's own INVITEs (another Call-ID), nor this leg's Call-ID once it came back
// or once Parley's INVITE ended, past the rules.
describe("the loop marker a callee received on Parley's B leg", () => {
  let parley: RunningParley;
  before(async () => {
    const sipPort = await freePort();
    parley = await startParley(
      `
routing:
  rules:
    - name: busy
      match: { method: INVITE, requestUri: "sip:busy@*" }
      actions: [{ app: busy }]
    - name: gateway
      match: { method: INVITE, requestUri: "sip:gw-*" }
      actions: [{ app: gw }]
flows:
  busy: [{ hangup: { status: 486 } }]
  gw: [{ bridge: { ringTimeout: 20 } }]
`,
      { sipPort, outboundProxy: `sip:127.0.0.1:${sipPort}`, embedded: true },
    );
  });
  after(() => parley?.stop());

  it("replayed on the callee's own INVITE (another Call-ID), on the leg's again, or after the leg ended: taken by the rules like any INVITE", async () => {
    const alice = await RawSipClient.open();
    const bob = await RawSipClient.open();
    try {
      const callee = `sip:gw-bob@127.0.0.1:${bob.port}`;
      const call = request('INVITE', alice.port, { To: `<${callee}>`, 'Content-Type': 'application/sdp' }, RAW_SDP);
      alice.send(parley.sipPort, call.text.replace('INVITE sip:parley@127.0.0.1 ', `INVITE ${callee} `));
      // The B leg came back through Parley (its own outbound proxy) and was proxied on to bob: one INVITE, marked.
      const leg = await bob.nextMatching(/^INVITE /, 10_000);
      const marker = header(leg, 'X-Parley-Leg');
      assert.match(marker, /^b2b;t=\d+;sig=/);
      assert.equal(leg.split('\r\n').filter((l) => /^Via:/i.test(l)).length, 2, 'proxied by Parley: its own Via and the proxy hop');
      bob.send(parley.sipPort, responseTo(leg, '180 Ringing', 'bob1'));

      /** Bob's INVITE to `user`, with the marker and `over` headers: its final status line. */
      const bobSends = async (user: string, over: Record<string, string>): Promise<string> => {
        const r = request('INVITE', bob.port, { 'X-Parley-Leg': marker, 'Content-Type': 'application/sdp', ...over }, RAW_SDP);
        bob.send(parley.sipPort, r.text.replace('INVITE sip:parley@127.0.0.1 ', `INVITE sip:${user} `));
        const final = await bob.nextMatching(/^SIP\/2\.0 [2-6]/, 10_000, over['Call-ID'] ?? r.callId);
        bob.send(parley.sipPort, `ACK sip:${user} SIP/2.0\r\nVia: ${header(final, 'Via')}\r\nFrom: ${header(final, 'From')}\r\nTo: ${header(final, 'To')}\r\nCall-ID: ${header(final, 'Call-ID')}\r\nCSeq: ${header(final, 'CSeq').replace('INVITE', 'ACK')}\r\nContent-Length: 0\r\n\r\n`);
        return final.split('\r\n')[0]!;
      };
      // Marked, they would be proxied to port 9 (nobody): an error, not the app's 486.
      assert.match(await bobSends('busy@127.0.0.1:9', {}), /^SIP\/2\.0 486 /, "the marker on bob's own INVITE (another Call-ID)");
      const sameLeg = { 'Call-ID': header(leg, 'Call-ID'), From: header(leg, 'From'), CSeq: '7 INVITE' };
      assert.match(await bobSends('busy@127.0.0.1:9', sameLeg), /^SIP\/2\.0 486 /, "the leg's own Call-ID and From again, while it rings: taken once");
      // Bob refuses the leg: Parley's INVITE is over, the caller gets the 486.
      bob.send(parley.sipPort, responseTo(leg, '486 Busy Here', 'bob1'));
      assert.match(await alice.nextMatching(/^SIP\/2\.0 [3-6]/, 10_000, call.callId), /^SIP\/2\.0 486 /);
      assert.match(await bobSends('busy@127.0.0.1:9', { ...sameLeg, CSeq: '8 INVITE' }), /^SIP\/2\.0 486 /, 'after the leg ended');
    } finally {
      alice.close();
      bob.close();
    }
  });
});

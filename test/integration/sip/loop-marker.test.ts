// Loops, from outside. The loop marker: a caller that writes X-Parley-Leg: b2b (or a stamp it
// made up) must not have its INVITE proxied past the rules that record it; Parley's own stamp
// is what the rule chain takes for one of its legs (unit loop-marker). The header-edit relay:
// a rule that edits headers and proxies to Parley itself gets 482 at the first return.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
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
      return (await ua.nextMatching(/^SIP\/2\.0 [2-6]/, ms, r.callId)).split('\r\n')[0]!;
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

  it("Parley's own stamp: proxied on (to its Request-URI, here nobody: an error response, not the app's 486)", async () => {
    assert.doesNotMatch(await finalTo('nobody@127.0.0.1:9', { 'X-Parley-Leg': parley.app.routing.marker.value }, 40_000), /^SIP\/2\.0 486 /);
  });
});

// What a `respond` rule puts on the wire (raw UDP caller, embedded server). A response the
// app cannot have sent (a header name that is no token makes it unparseable) must still end
// the request at once with a 500, not leave the caller to the 64 s backstop; the load-time
// checks (test/unit/config/respond-keys.test.ts) keep such a rule out of a config.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { attachRules } from '../../helpers/relay-call.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';

describe('respond rules on the wire (raw UDP caller)', () => {
  let h: Harness;
  let caller: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await startHarness();
    sipPort = h.server.sipPort('udp');
    caller = await RawSipClient.open();
    attachRules(h.srf, [
      {
        name: 'redirect',
        match: { headers: { 'X-Redirect': { present: true } } },
        actions: [{ redirect: { contacts: ['sip:a@127.0.0.1:5999;transport=tcp;q=0.5', '"B" <sip:b@127.0.0.1:5998>;q=0.9;expires=60'] } }],
      },
      { name: 'bad-name', match: { headers: { 'X-Bad-Name': { present: true } } }, actions: [{ respond: { status: 486, headers: { 'Bad Name': 'x' } } }] },
    ]);
  });

  after(async () => {
    caller.close();
    await h.close();
  });

  it('redirect contacts carry their q-values as Contact parameters, never URI ones', async () => {
    caller.send(sipPort, request('OPTIONS', caller.port, { 'X-Redirect': '1' }).text);
    const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 3000);
    assert.match(final, /^SIP\/2\.0 302 /);
    const contacts = final.split('\r\n').filter((l) => /^(Contact|m):/i.test(l)).map((l) => l.replace(/^[^:]+:\s*/, '')).join(', ');
    assert.match(contacts, /^<sip:a@127\.0\.0\.1:5999;transport=tcp>;q=0\.5, ?"B" <sip:b@127\.0\.0\.1:5998>;q=0\.9;expires=60$/, final);
  });

  it('a response that cannot be built still answers at once: 500, not silence until the backstop', async () => {
    const r = request('OPTIONS', caller.port, { 'X-Bad-Name': '1' });
    const t0 = Date.now();
    caller.send(sipPort, r.text);
    const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 3000);
    assert.match(final, /^SIP\/2\.0 500 /);
    assert.ok(Date.now() - t0 < 2000, 'answered at once');
  });
});

// URIs with headers (RFC 3261 §19.1.5) where Parley forms a request from a URI: a retarget
// proxied on, a header-edit relay's target (a request the app writes, as a bridge's `to`, a
// callee's 3xx Contact and a dial-out are). The headers go in the request, the Request-URI
// goes without them, and framing headers (Call-ID, Via, Max-Forwards...) are never taken from
// a URI. Raw UDP sockets play the caller and the callee.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RoutingTable } from '../../../src/policy/routing-table.ts';
import { InboundRouter } from '../../../src/signaling/inbound-router.ts';
import { RawSipClient, request, headerValues } from '../../helpers/raw-sip-client.ts';
import { answer, viaPort } from '../../helpers/relay-call.ts';
import { SDP, startHarness, testLogger, type Harness } from '../../helpers/sip-harness.ts';

describe('URI headers of the targets Parley forms requests from', () => {
  let h: Harness;
  let caller: RawSipClient;
  let callee: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await startHarness();
    sipPort = h.server.sipPort('udp');
    caller = await RawSipClient.open();
    callee = await RawSipClient.open();
    const to = `sip:bob@127.0.0.1:${callee.port};user=phone?Subject=hello%20there&X-Foo=bar&Call-ID=evil&Max-Forwards=1`;
    const rules = [
      { name: 'moved', match: { requestUri: 'sip:moved@*' }, actions: [{ retarget: to }, { proxy: null }] },
      { name: 'edit', match: { requestUri: 'sip:edit@*' }, actions: [{ headers: { set: { 'X-Keep': 'edited' } } }, { proxy: { targets: [to] } }] },
    ];
    new InboundRouter(h.srf, new RoutingTable({ ...defaultConfig.routing, proxyByDefault: false, rules }, {}), testLogger()).attach();
  });

  after(async () => {
    caller.close();
    callee.close();
    await h.close();
  });

  for (const [label, ruri, method] of [
    ['a retarget proxied on (INVITE)', 'sip:moved@127.0.0.1', 'INVITE'],
    ['a retarget proxied on (MESSAGE)', 'sip:moved@127.0.0.1', 'MESSAGE'],
    ['a header-edit relay target (the request the app writes)', 'sip:edit@127.0.0.1', 'INVITE'],
  ] as const) {
    it(`${label}: the headers go in the request, the Request-URI without them; the caller gets the final response at once`, async () => {
      const r = request(method, caller.port, { 'X-Keep': 'yes', 'Content-Type': method === 'INVITE' ? 'application/sdp' : 'text/plain' }, method === 'INVITE' ? SDP : 'hi');
      caller.send(sipPort, r.text.replace(/^(\w+) sip:parley@127\.0\.0\.1/, `$1 ${ruri}`));
      const got = await callee.nextMatching(new RegExp(`^${method} `), 2000);
      assert.match(got, new RegExp(`^${method} sip:bob@127\\.0\\.0\\.1:${callee.port};user=phone SIP/2\\.0\\r\\n`), got);
      assert.deepEqual(headerValues(got, 'Subject'), ['hello there'], got);
      assert.deepEqual(headerValues(got, 'X-Foo'), ['bar'], got);
      assert.notDeepEqual(headerValues(got, 'Call-ID'), ['evil'], 'Call-ID is never taken from a URI');
      assert.deepEqual(headerValues(got, 'Max-Forwards'), ['69'], 'nor Max-Forwards');
      callee.send(viaPort(got), answer(got, method === 'INVITE' ? '486 Busy Here' : '200 OK'));
      const final = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 2000, r.callId);
      assert.match(final, method === 'INVITE' ? /^SIP\/2\.0 486 / : /^SIP\/2\.0 200 /);
    });
  }
});

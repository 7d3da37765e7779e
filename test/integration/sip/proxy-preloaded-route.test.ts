// A preloaded Route on a request Parley proxies (RFC 3261 §16.4, §16.6 steps 6-7, §16.12):
// Parley removes its own entry and sends the request to the topmost Route left, whatever the
// Request-URI (proxyByDefault, a rule's targets, a retarget, the header-edit relay; INVITE and
// MESSAGE); a strict router's Route (no lr) becomes the Request-URI. Raw UDP sockets play the
// caller, the next hop of the Route and the Request-URI's host (which must get nothing).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RoutingTable } from '../../../src/policy/routing-table.ts';
import { InboundRouter } from '../../../src/signaling/inbound-router.ts';
import { RawSipClient, request, headerValues } from '../../helpers/raw-sip-client.ts';
import { answer, viaPort } from '../../helpers/relay-call.ts';
import { SDP, startHarness, testLogger, type Harness } from '../../helpers/sip-harness.ts';

describe('a preloaded Route on a proxied request', () => {
  let h: Harness;
  let caller: RawSipClient;
  let hop: RawSipClient;
  let callee: RawSipClient;
  let sipPort: number;

  before(async () => {
    h = await startHarness();
    sipPort = h.server.sipPort('udp');
    caller = await RawSipClient.open();
    hop = await RawSipClient.open();
    callee = await RawSipClient.open();
    const to = `sip:bob@127.0.0.1:${callee.port}`;
    const rules = [
      { name: 'serial', match: { requestUri: 'sip:serial@*' }, actions: [{ proxy: { targets: [to] } }] },
      { name: 'moved', match: { requestUri: 'sip:moved@*' }, actions: [{ retarget: to }, { proxy: null }] },
      { name: 'edit', match: { requestUri: 'sip:edit@*' }, actions: [{ headers: { set: { Subject: 'edited' } } }, { proxy: { targets: [to] } }] },
    ];
    const table = new RoutingTable({ ...defaultConfig.routing, proxyByDefault: true, rules }, {});
    new InboundRouter(h.srf, table, testLogger()).attach();
  });

  after(async () => {
    caller.close();
    hop.close();
    callee.close();
    await h.close();
  });

  /** Sends `method` to `ruri` with `Route: <parley;lr>, <hop…>`; returns the request the hop got (it answers 486 / 200). */
  async function viaRoute(method: 'INVITE' | 'MESSAGE', ruri: string, hopLr = true): Promise<string> {
    const route = `<sip:127.0.0.1:${sipPort};lr>, <sip:127.0.0.1:${hop.port}${hopLr ? ';lr' : ''}>`;
    const r = request(method, caller.port, { Route: route, Subject: 'original', 'Content-Type': method === 'INVITE' ? 'application/sdp' : 'text/plain' }, method === 'INVITE' ? SDP : 'hi');
    caller.send(sipPort, r.text.replace(/^(\w+) sip:parley@127\.0\.0\.1/, `$1 ${ruri}`));
    const got = await hop.nextMatching(new RegExp(`^${method} `));
    hop.send(viaPort(got), answer(got, method === 'INVITE' ? '486 Busy Here' : '200 OK'));
    await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 3000, r.callId);
    return got;
  }

  const calleeUri = (): string => `sip:bob@127.0.0.1:${callee.port}`;

  it('proxyByDefault (INVITE and MESSAGE): to the next Route, the Request-URI and the rest of the Route kept', async () => {
    for (const method of ['INVITE', 'MESSAGE'] as const) {
      const got = await viaRoute(method, calleeUri());
      assert.match(got, new RegExp(`^${method} ${calleeUri()} SIP/2\\.0`), got);
      assert.deepEqual(headerValues(got, 'Route'), [`<sip:127.0.0.1:${hop.port};lr>`], got);
    }
  });

  it('a rule\'s targets, a retarget and the header-edit relay: the Route still wins', async () => {
    for (const ruri of ['sip:serial@127.0.0.1', 'sip:moved@127.0.0.1', 'sip:edit@127.0.0.1']) {
      const got = await viaRoute('INVITE', ruri);
      assert.match(got, new RegExp(`^INVITE ${calleeUri()} SIP/2\\.0`), `${ruri}: ${got}`);
      assert.deepEqual(headerValues(got, 'Route'), [`<sip:127.0.0.1:${hop.port};lr>`], got);
    }
  });

  it('a strict router next (no lr): its URI becomes the Request-URI, the Request-URI goes last in the Route', async () => {
    const got = await viaRoute('MESSAGE', calleeUri(), false);
    assert.match(got, new RegExp(`^MESSAGE sip:127\\.0\\.0\\.1:${hop.port} SIP/2\\.0`), got);
    assert.deepEqual(headerValues(got, 'Route'), [`<${calleeUri()}>`], got);
  });

  it('the Request-URI\'s host got nothing', async () => {
    await assert.rejects(callee.next(200));
  });
});

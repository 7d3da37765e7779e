// RFC 3325 §5 on the proxy paths: a P-Asserted-Identity from a sender outside
// security.upstreams is removed before the request goes on (a rule's proxy, the header-edit
// relay, proxyByDefault; INVITE and MESSAGE alike), as the bridge drops it; one from an
// upstream goes on. Raw UDP sockets play the caller (127.0.0.1 untrusted, 127.0.0.2 the
// upstream) and the callee, which reads what reached it. RFC 3325 §7: an upstream's identity
// with `Privacy: id` is removed when it goes to a next hop outside the trust domain (the callee
// at 127.0.0.1), kept when the next hop is an upstream (127.0.0.2).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RoutingTable } from '../../../src/policy/routing-table.ts';
import { InboundRouter } from '../../../src/signaling/inbound-router.ts';
import { RawSipClient, request, headerValues } from '../../helpers/raw-sip-client.ts';
import { answer, viaPort } from '../../helpers/relay-call.ts';
import { SDP, startHarness, testLogger, type Harness } from '../../helpers/sip-harness.ts';

const FORGED = '"The CEO" <sip:ceo@example.com>';

describe('P-Asserted-Identity on proxied requests (RFC 3325 §5)', () => {
  let h: Harness;
  let untrusted: RawSipClient;
  let upstream: RawSipClient;
  let callee: RawSipClient;
  /** A next hop inside the trust domain (an upstream's address). */
  let insider: RawSipClient;

  before(async () => {
    h = await startHarness();
    untrusted = await RawSipClient.open('127.0.0.1');
    upstream = await RawSipClient.open('127.0.0.2');
    callee = await RawSipClient.open();
    insider = await RawSipClient.open('127.0.0.2');
    const to = `sip:bob@127.0.0.1:${callee.port}`;
    const rules = [
      { name: 'serial', match: { requestUri: 'sip:serial@*' }, actions: [{ proxy: { targets: [to] } }] },
      { name: 'inside', match: { requestUri: 'sip:inside@*' }, actions: [{ proxy: { targets: [`sip:bob@127.0.0.2:${insider.port}`] } }] },
      { name: 'anon', match: { requestUri: 'sip:anon@*' }, actions: [{ headers: { set: { From: 'sip:anonymous@anonymous.invalid' } } }, { proxy: { targets: [to] } }] },
    ];
    const table = new RoutingTable({ ...defaultConfig.routing, proxyByDefault: true, rules }, {});
    new InboundRouter(h.srf, table, testLogger(), 500, undefined, ['127.0.0.2']).attach();
  });

  after(async () => {
    untrusted.close();
    upstream.close();
    callee.close();
    insider.close();
    await h.close();
  });

  /** Sends `method` to `ruri` from `from` with a P-Asserted-Identity; returns what the callee got (it answers 486 / 200). */
  async function forward(from: RawSipClient, method: 'INVITE' | 'MESSAGE', ruri: string, extra: Record<string, string> = {}, to = callee): Promise<string> {
    const body = method === 'INVITE' ? SDP : 'hello';
    const r = request(method, from.port, { 'P-Asserted-Identity': FORGED, 'Content-Type': method === 'INVITE' ? 'application/sdp' : 'text/plain', ...extra }, body);
    from.send(h.server.sipPort('udp'), r.text.replace(/^(\w+) sip:parley@127\.0\.0\.1/, `$1 ${ruri}`));
    const got = await to.nextMatching(new RegExp(`^${method} `));
    to.send(viaPort(got), answer(got, method === 'INVITE' ? '486 Busy Here' : '200 OK'), /^Via: SIP\/2\.0\/UDP ([^:;\s]+)/m.exec(got)![1]);
    await from.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 3000, r.callId);
    return got;
  }

  const calleeUri = (): string => `sip:bob@127.0.0.1:${callee.port}`;

  it('a rule proxy (INVITE and MESSAGE): an untrusted sender\'s P-Asserted-Identity is removed', async () => {
    for (const method of ['INVITE', 'MESSAGE'] as const) {
      const got = await forward(untrusted, method, 'sip:serial@127.0.0.1');
      assert.deepEqual(headerValues(got, 'P-Asserted-Identity'), [], got);
    }
  });

  it('proxyByDefault (INVITE and MESSAGE): removed too', async () => {
    for (const method of ['INVITE', 'MESSAGE'] as const) {
      const got = await forward(untrusted, method, calleeUri());
      assert.deepEqual(headerValues(got, 'P-Asserted-Identity'), [], got);
    }
  });

  it('the header-edit relay that anonymises From: no forged identity goes with it', async () => {
    const got = await forward(untrusted, 'INVITE', 'sip:anon@127.0.0.1');
    assert.match(headerValues(got, 'From')[0] ?? '', /^<?sip:anonymous@anonymous\.invalid/);
    assert.deepEqual(headerValues(got, 'P-Asserted-Identity'), [], got);
  });

  it('from an upstream (security.upstreams) the asserted identity goes on', async () => {
    const got = await forward(upstream, 'INVITE', 'sip:serial@127.0.0.1');
    assert.deepEqual(headerValues(got, 'P-Asserted-Identity'), [FORGED], got);
    const msg = await forward(upstream, 'MESSAGE', calleeUri());
    assert.deepEqual(headerValues(msg, 'P-Asserted-Identity'), [FORGED], msg);
  });

  it('RFC 3325 §7: an upstream\'s identity with Privacy: id is removed on its way to a next hop outside the trust domain (rule proxy, proxyByDefault; INVITE and MESSAGE)', async () => {
    for (const method of ['INVITE', 'MESSAGE'] as const) {
      for (const ruri of ['sip:serial@127.0.0.1', calleeUri()]) {
        const got = await forward(upstream, method, ruri, { Privacy: 'id' });
        assert.deepEqual(headerValues(got, 'P-Asserted-Identity'), [], `${method} ${ruri}: ${got}`);
        assert.deepEqual(headerValues(got, 'Privacy'), ['id'], 'Privacy goes on as it came');
      }
    }
    // Another priv-value among others counts (RFC 3323 §4.2: `Privacy: header;id`).
    const got = await forward(upstream, 'INVITE', 'sip:serial@127.0.0.1', { Privacy: 'header; id' });
    assert.deepEqual(headerValues(got, 'P-Asserted-Identity'), [], got);
  });

  it('RFC 3325 §7: with Privacy: id the identity goes on to a next hop inside the trust domain (an upstream), and without it to anyone', async () => {
    const inside = await forward(upstream, 'INVITE', 'sip:inside@127.0.0.1', { Privacy: 'id' }, insider);
    assert.deepEqual(headerValues(inside, 'P-Asserted-Identity'), [FORGED], inside);
    const other = await forward(upstream, 'INVITE', 'sip:serial@127.0.0.1', { Privacy: 'header' });
    assert.deepEqual(headerValues(other, 'P-Asserted-Identity'), [FORGED], other);
  });
});

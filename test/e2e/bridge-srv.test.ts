// parley-tests: beside (judges no real-time audio beyond comesToHear, has the tone; run beside other test files, scripts/run-tests.sh)
// The record-notice gateway's bridge to a domain that publishes SRV records (RFC 3263), as
// a carrier or a hosted PBX does: a caller's INVITE to sip:bob@pbx.test is bridged to the
// target the domain's SRV records name, past a first target that cannot be reached (a closed
// port: ICMP, §4.3). A real DNS server on loopback (sip.dns.servers), a SIPp callee sending a
// tone that the caller hears; /metrics counts the SRV routing and the failover.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { apiBase, call, tempApiYaml } from '../helpers/api-client.ts';
import { TestDnsServer } from '../helpers/dns-server.ts';
import { freePort } from '../helpers/free-port.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { comesToHear } from '../helpers/peer-hearing.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { nextCallEnd, sippOk, startCallee } from './helpers.ts';
import { assertNothingLeft } from './leftovers.ts';
import { BRIDGE_YAML, bodyOf, rawCall, statusOf } from './raw-dialog.ts';

const CALLEE_HZ = 700;

async function metric(p: RunningParley, event: string): Promise<number> {
  const m = await call(apiBase(p), 'GET', '/metrics');
  assert.equal(m.status, 200, m.text);
  const line = m.text.split('\n').find((l) => l.startsWith(`parley_sip_dns{event="${event}"} `));
  assert.ok(line, `parley_sip_dns{event="${event}"} in /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('a bridge to a domain with SRV records (sip.dns, real DNS server, SIPp callee)', () => {
  let dns: TestDnsServer;
  let parley: RunningParley;

  before(async () => {
    dns = await TestDnsServer.start({ SRV: {} });
    parley = await startParley(BRIDGE_YAML + tempApiYaml('bridge-srv-'), { embedded: true, sip: [`dns: { srv: true, servers: ["${dns.address}"], timeoutMs: 500, cacheSec: 60 }`] });
  });
  after(async () => {
    await parley?.stop();
    dns?.close();
  });

  it('the callee the SRV records name answers, past a first target that cannot be reached; the caller hears it', async () => {
    assert.equal(await metric(parley, 'srv_routed'), 0);
    const callee = await startCallee('callee.xml', CALLEE_HZ);
    try {
      dns.zone.SRV!['_sip._udp.pbx.test'] = [
        { priority: 10, weight: 0, port: await freePort(), target: 'localhost' },
        { priority: 20, weight: 0, port: callee.port, target: 'localhost' },
      ];
      const phone = await new RtpPeer({ codec: 'PCMU' }).bind();
      const ended = nextCallEnd(parley);
      await rawCall(parley, { name: 'bridge-srv', user: 'bob', to: 'sip:bob@pbx.test', phone }, async (c) => {
        const ok = await c.invite(phone.sdp());
        assert.equal(statusOf(ok), 200, ok);
        phone.useRemoteSdp(bodyOf(ok));
        phone.start({ kind: 'tone', freq: 1000, amplitude: 8000 });
        const heard = await comesToHear(phone, CALLEE_HZ, 0);
        assert.ok(heard.ok, `the caller hears the callee the SRV records named: ${heard.detail}`);
        c.cseq++;
        c.send('BYE');
        assert.equal(statusOf(await c.finalTo(`${c.cseq} BYE`)), 200);
      });
      sippOk(await callee.done, 'the callee');
      await ended;
      await assertNothingLeft(parley);
      assert.ok(dns.questions.includes('SRV _sip._udp.pbx.test'), dns.questions.join(', '));
      assert.equal(await metric(parley, 'srv_routed'), 1);
      assert.equal(await metric(parley, 'failover'), 1);
      assert.equal(await metric(parley, 'query_failed'), 0);
    } finally {
      callee.kill();
      await callee.rtp.close();
    }
  });
});

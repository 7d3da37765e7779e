// srf.proxyRequest through the embedded server: SIPp caller → proxy (the app) → SIPp callee,
// with Record-Route so the ACK and BYE follow the route through the server without the app.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import dgram from 'node:dgram';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts, startSipp } from '../../helpers/sipp.ts';

interface ProxyResult {
  connected: boolean;
  finalStatus: number;
  responses: Array<{ msgs: Array<{ status: number }> }>;
}

/** A UDP socket of ours that never answers: a target that is certainly silent. */
async function blackHole(): Promise<{ port: number; close(): void }> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, close: () => s.close() };
}

describe('stateful proxy', () => {
  let h: Harness;
  let proxyTo: () => Record<string, unknown> = () => ({});
  let results: Array<Promise<ProxyResult>> = [];
  const seenByApp: string[] = [];

  before(async () => {
    h = await startHarness();
    h.srf.use((req, _res, next) => {
      seenByApp.push(req.method);
      next();
    });
    h.srf.invite((req) => {
      results.push((req as unknown as { proxy(o: Record<string, unknown>): Promise<ProxyResult> }).proxy(proxyTo()));
    });
  });
  after(() => h.close());

  for (const transport of ['udp', 'tcp'] as const) {
    it(`over ${transport}: Record-Route is added, the BYE follows the route, the app sees only the INVITE`, async () => {
      seenByApp.length = 0;
      results = [];
      const uas = await startSipp({ scenario: 'uas-answer-rr.xml', transport, calls: 1, timeoutS: 10 });
      proxyTo = () => ({ destination: `sip:callee@127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`, remainInDialog: true });
      const uac = await runSipp({ scenario: 'uac-proxy-rr.xml', transport, remote: h.target(transport), calls: 1, service: 'callee', timeoutS: 10 });
      assert.equal(uac.code, 0, uac.stdout.slice(-2000) + uac.errors);
      assert.deepEqual(sippCounts(uac.stdout), { ok: 1, failed: 0 });
      const callee = await uas.done;
      assert.equal(callee.code, 0, callee.stdout.slice(-2000) + callee.errors);
      const result = await results[0];
      assert.equal(result.finalStatus, 200);
      assert.equal(result.connected, true);
      assert.deepEqual(seenByApp, ['INVITE'], 'ACK and BYE went through the server alone');
    });
  }

  it('serial forking with a provisional timeout: a silent first target is skipped, the second answers', async () => {
    results = [];
    const hole = await blackHole();
    const silent = hole.port;
    const uas = await startSipp({ scenario: 'uas-answer-rr.xml', transport: 'udp', calls: 1, timeoutS: 10 });
    proxyTo = () => ({ destination: [`sip:nobody@127.0.0.1:${silent}`, `sip:callee@127.0.0.1:${uas.port}`], provisionalTimeout: '300ms', remainInDialog: true });
    const uac = await runSipp({ scenario: 'uac-proxy-rr.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'callee', timeoutS: 10 });
    assert.equal(uac.code, 0, uac.stdout.slice(-2000) + uac.errors);
    const result = await results[0];
    assert.equal(result.finalStatus, 200);
    assert.equal((await uas.done).code, 0);
    hole.close();
  });

  it('every target failing: the best final response goes upstream and the app hears all of them', async () => {
    results = [];
    const holeA = await blackHole();
    const holeB = await blackHole();
    const a = holeA.port;
    const b = holeB.port;
    proxyTo = () => ({ destination: [`sip:a@127.0.0.1:${a}`, `sip:b@127.0.0.1:${b}`], forking: 'simultaneous', provisionalTimeout: '200ms' });
    const uac = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'x', timeoutS: 5 });
    assert.notEqual(uac.code, 0, 'the caller got a failure');
    assert.match(uac.errors + uac.stdout, /408/);
    const result = await results[0];
    assert.equal(result.finalStatus, 408);
    assert.equal(result.connected, false);
    assert.equal(result.responses.reduce((n, r) => n + r.msgs.length, 0), 2, 'one final response per target');
    holeA.close();
    holeB.close();
  });

  it('a tel: target is not looked up in DNS: 416 Unsupported URI Scheme goes upstream', async () => {
    results = [];
    proxyTo = () => ({ destination: 'tel:+15551234' });
    const uac = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'x', timeoutS: 5 });
    assert.notEqual(uac.code, 0, 'the caller got a failure');
    const result = await results[0];
    assert.equal(result.finalStatus, 416);
    assert.equal(result.connected, false);
  });

  it('an IMS number target (user part with ;phone-context) goes to the host after its @', async () => {
    results = [];
    const uas = await startSipp({ scenario: 'uas-answer-rr.xml', transport: 'udp', calls: 1, timeoutS: 10 });
    proxyTo = () => ({ destination: `sip:+15551234;phone-context=ims.example@127.0.0.1:${uas.port};user=phone`, remainInDialog: true });
    const uac = await runSipp({ scenario: 'uac-proxy-rr.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'callee', timeoutS: 10 });
    assert.equal(uac.code, 0, uac.stdout.slice(-2000) + uac.errors);
    assert.equal((await results[0]).finalStatus, 200);
    assert.equal((await uas.done).code, 0);
  });

  it('a CANCEL from the caller is propagated to the ringing target; the 487 comes back', async () => {
    results = [];
    const uas = await startSipp({ scenario: 'uas-ring-cancel.xml', transport: 'udp', calls: 1, timeoutS: 10 });
    proxyTo = () => ({ destination: `sip:callee@127.0.0.1:${uas.port}` });
    const uac = await runSipp({ scenario: 'uac-cancel.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'callee', timeoutS: 10 });
    assert.equal(uac.code, 0, uac.stdout.slice(-2000) + uac.errors);
    const callee = await uas.done;
    assert.equal(callee.code, 0, callee.stdout.slice(-2000) + callee.errors);
    assert.equal((await results[0]).finalStatus, 487);
  });

  it('simultaneous forking: one target busy, one answering; the call connects through the one that answered', async () => {
    results = [];
    const busy = await startSipp({ scenario: 'uas-reject.xml', transport: 'udp', calls: 1, timeoutS: 10 });
    const ok = await startSipp({ scenario: 'uas-answer-rr.xml', transport: 'udp', calls: 1, timeoutS: 10 });
    proxyTo = () => ({ destination: [`sip:busy@127.0.0.1:${busy.port}`, `sip:ok@127.0.0.1:${ok.port}`], forking: 'simultaneous', remainInDialog: true });
    const uac = await runSipp({ scenario: 'uac-proxy-rr.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'callee', timeoutS: 10 });
    assert.equal(uac.code, 0, uac.stdout.slice(-2000) + uac.errors);
    assert.equal((await results[0]).finalStatus, 200);
    const b = await busy.done;
    assert.equal(b.code, 0, `busy: ${b.stdout.slice(-1500)} ${b.errors}`);
    const o = await ok.done;
    assert.equal(o.code, 0, `ok: ${o.stdout.slice(-1500)} ${o.errors}`);
  });

  it('a 302 whose Contact is no SIP URI (http:) is ACKed and not followed: it goes upstream as the best response', async () => {
    results = [];
    const redirect = await startSipp({ scenario: 'uas-redirect.xml', transport: 'udp', calls: 1, timeoutS: 10, extra: ['-set', 'target', 'http://evil.example/'] });
    proxyTo = () => ({ destination: `sip:first@127.0.0.1:${redirect.port}`, followRedirects: true });
    const uac = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'x', timeoutS: 10 });
    assert.notEqual(uac.code, 0, 'the caller got a failure');
    const result = await results[0];
    assert.equal(result.finalStatus, 302);
    assert.equal((await redirect.done).code, 0, 'the 302 was ACKed');
  });

  it('followRedirects: a 302 from the first target sends the INVITE to its Contact', async () => {
    results = [];
    const ok = await startSipp({ scenario: 'uas-answer-rr.xml', transport: 'udp', calls: 1, timeoutS: 10 });
    const redirect = await startSipp({ scenario: 'uas-redirect.xml', transport: 'udp', calls: 1, timeoutS: 10, extra: ['-set', 'target', `sip:moved@127.0.0.1:${ok.port}`] });
    proxyTo = () => ({ destination: `sip:first@127.0.0.1:${redirect.port}`, followRedirects: true, remainInDialog: true });
    const uac = await runSipp({ scenario: 'uac-proxy-rr.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'callee', timeoutS: 10 });
    assert.equal(uac.code, 0, uac.stdout.slice(-2000) + uac.errors);
    assert.equal((await results[0]).finalStatus, 200);
    assert.equal((await redirect.done).code, 0);
    assert.equal((await ok.done).code, 0);
  });
});

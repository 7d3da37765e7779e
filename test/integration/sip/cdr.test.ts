// CDR events as drachtio sends them: cdr:attempt, cdr:start (role) and cdr:stop (reason).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp } from '../../helpers/sipp.ts';

interface Cdr {
  event: string;
  source: string;
  extra: string | null;
  method: string | undefined;
  status: number | undefined;
}

describe('CDR events', () => {
  let h: Harness;
  const cdrs: Cdr[] = [];
  let onStop: () => void = () => undefined;

  before(async () => {
    h = await startHarness();
    h.srf.invite((req, res) => {
      const user = /^sip:([^@]+)@/.exec(req.uri)?.[1];
      if (user === 'reject') res.send(486);
      else if (user === 'ring') res.send(180);
      else h.srf.createUAS(req, res, { localSdp: SDP }).catch(() => undefined);
    });
    const on = h.srf.on.bind(h.srf) as unknown as (e: string, f: (...a: unknown[]) => void) => void;
    type Msg = { method?: string; status?: number };
    on('cdr:attempt', (source, _time, msg) => cdrs.push({ event: 'attempt', source: String(source), extra: null, method: (msg as Msg).method, status: (msg as Msg).status }));
    on('cdr:start', (source, _time, role, msg) => cdrs.push({ event: 'start', source: String(source), extra: String(role), method: (msg as Msg).method, status: (msg as Msg).status }));
    on('cdr:stop', (source, _time, reason, msg) => {
      cdrs.push({ event: 'stop', source: String(source), extra: String(reason), method: (msg as Msg).method, status: (msg as Msg).status });
      onStop();
    });
    while (!['cdr:attempt', 'cdr:start', 'cdr:stop'].every((v) => h.server.routedVerbs.includes(v))) {
      await new Promise((r) => setImmediate(r));
    }
  });
  after(() => h.close());

  it('an answered call that the caller hangs up: attempt, start (uas), stop (normal-release)', async () => {
    cdrs.length = 0;
    const stopped = new Promise<void>((r) => (onStop = r));
    const run = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 1, timeoutS: 10 });
    assert.equal(run.code, 0, run.errors);
    await stopped;
    assert.deepEqual(cdrs, [
      { event: 'attempt', source: 'network', extra: null, method: 'INVITE', status: undefined },
      { event: 'start', source: 'application', extra: 'uas', method: undefined, status: 200 },
      { event: 'stop', source: 'network', extra: 'normal-release', method: 'BYE', status: undefined },
    ]);
  });

  it('a call cancelled while ringing: attempt, then stop (call-canceled) with the CANCEL', async () => {
    cdrs.length = 0;
    const stopped = new Promise<void>((r) => (onStop = r));
    const run = await runSipp({ scenario: 'uac-cancel.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'ring', timeoutS: 10 });
    assert.equal(run.code, 0, run.errors);
    await stopped;
    assert.deepEqual(cdrs.map((c) => [c.event, c.source, c.extra, c.method]), [
      ['attempt', 'network', null, 'INVITE'],
      ['stop', 'network', 'call-canceled', 'CANCEL'],
    ]);
  });

  it('a rejected call: attempt, then stop (call-rejected) with the 486', async () => {
    cdrs.length = 0;
    const stopped = new Promise<void>((r) => (onStop = r));
    const run = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'reject', timeoutS: 10 });
    assert.notEqual(run.code, 0, 'SIPp expected a 200 and got 486');
    await stopped;
    assert.deepEqual(cdrs.map((c) => [c.event, c.source, c.extra, c.status]), [
      ['attempt', 'network', null, undefined],
      ['stop', 'application', 'call-rejected', 486],
    ]);
  });
});

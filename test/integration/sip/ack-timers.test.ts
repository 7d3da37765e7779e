// 2xx reliability (RFC 3261 §13.3.1.4) with small timers: a lost 200 OK is retransmitted
// until ACKed; a 200 never ACKed ends with the server's BYE (timer H) reported to the app.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { defaultConfig } from '../../../src/config/schema.ts';
import { runSipp } from '../../helpers/sipp.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

const T1 = 20; // timer H = 64*T1 = 1.28 s

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_r, reject) => (t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

describe('2xx retransmission and ACK timeout', () => {
  let h: Harness;
  let dialogs: Array<Promise<Srf.Dialog>> = [];
  let resolveNext: ((d: Srf.Dialog) => void) | null = null;

  before(async () => {
    h = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: T1 } });
    h.srf.invite((req, res) => {
      const r = resolveNext;
      h.srf.createUAS(req, res, { localSdp: SDP }).then((d) => r?.(d), (err: unknown) => h.log.error({ err }, 'createUAS'));
    });
  });
  after(() => h.close());

  const nextDialog = (): Promise<Srf.Dialog> => {
    const p = new Promise<Srf.Dialog>((r) => (resolveNext = r));
    dialogs.push(p);
    return p;
  };

  it('over udp a 200 OK that was not ACKed is retransmitted, and the ACK reaches the app once', async () => {
    const dialog = nextDialog();
    const run = runSipp({ scenario: 'uac-lost-200.xml', transport: 'udp', remote: h.target('udp'), calls: 1, timeoutS: 10, extra: ['-trace_counts'] });
    const d = await timeout(dialog, 5000, 'dialog');
    let acks = 0;
    d.on('ack', () => acks++);
    const destroyed = new Promise((r) => d.on('destroy', r));
    const r = await run;
    assert.equal(r.code, 0, r.stdout + r.errors);
    await timeout(destroyed, 5000, 'destroy');
    assert.equal(acks, 1);
    // SIPp counted the 200 OK retransmissions it received while it held the ACK back.
    const rows = r.counts.trim().split('\n').map((l) => l.split(';'));
    const col = rows[0].findIndex((c) => /^\d+_200_Retrans$/.test(c));
    const header = rows[0].length;
    const last = rows[rows.length - 1];
    const retrans = Number(last[col + (last.length - header)]);
    assert.ok(retrans >= 2, `200 OK retransmitted (${retrans} times)`);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`over ${transport} a 200 OK never ACKed ends with a BYE (Reason: ACK timeout) and the app hears of it`, async () => {
      const dialog = nextDialog();
      const started = Date.now();
      const run = runSipp({ scenario: 'uac-no-ack.xml', transport, remote: h.target(transport), calls: 1, timeoutS: 10 });
      const d = await timeout(dialog, 5000, 'dialog');
      const bye = await timeout(new Promise<Srf.SrfRequest>((r) => d.on('destroy', r)), 8000, 'destroy');
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 64 * T1 - 50, `BYE only after timer H (${elapsed} ms)`);
      assert.equal(bye.method, 'BYE');
      assert.match(bye.get('Reason'), /cause=200 ;text="ACK timeout"/);
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.errors);
      assert.equal(h.server.stats.dialogs, 0);
    });
  }

  after(() => {
    dialogs = [];
  });
});

// RFC 3262 reliable provisional responses through the embedded server, both directions.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts, startSipp } from '../../helpers/sipp.ts';

describe('100rel', () => {
  let h: Harness;
  let pracks = 0;

  before(async () => {
    h = await startHarness();
    h.srf.invite((req, res) => {
      // 183 sent reliably; the 200 only once its PRACK came back.
      const send = res.send.bind(res) as unknown as (s: number, o: object, cb: () => void, onPrack: (r: Srf.SrfRequest) => void) => void;
      send(183, { headers: { Require: '100rel' }, body: SDP }, () => undefined, () => {
        pracks++;
        h.srf.createUAS(req, res, { localSdp: SDP }).catch(() => undefined);
      });
    });
  });
  after(() => h.close());

  for (const transport of ['udp', 'tcp'] as const) {
    it(`over ${transport}: the app's 183 carries RSeq, the caller's PRACK is answered and reaches the app, then the 200`, async () => {
      const before = pracks;
      const r = await runSipp({ scenario: 'uac-100rel.xml', transport, remote: h.target(transport), calls: 1, timeoutS: 10 });
      assert.equal(r.code, 0, r.stdout.slice(-2500) + r.errors);
      assert.deepEqual(sippCounts(r.stdout), { ok: 1, failed: 0 });
      assert.equal(pracks - before, 1);
      assert.equal(h.server.stats.dialogs, 0);
    });

    it(`over ${transport}: a placed call's reliable 183 is PRACKed with the right RAck, then answered`, async () => {
      const uas = await startSipp({ scenario: 'uas-100rel.xml', transport, calls: 1, timeoutS: 10 });
      const uri = `sip:callee@127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      const d = await h.srf.createUAC(uri, { localSdp: SDP, headers: { Supported: '100rel' } });
      assert.match(d.sip.remoteTag, /SIPpTag01/);
      await d.destroy();
      const r = await uas.done;
      assert.equal(r.code, 0, r.stdout.slice(-2500) + r.errors);
      assert.equal(h.server.stats.dialogs, 0);
    });
  }
});

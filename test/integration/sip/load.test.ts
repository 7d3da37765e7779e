// 100 calls at 50 calls per second through the embedded server, none failing (issue 3).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts } from '../../helpers/sipp.ts';

describe('load', () => {
  let h: Harness;
  let dialogsMade = 0;

  before(async () => {
    h = await startHarness();
    h.srf.invite((req, res) => {
      h.srf.createUAS(req, res, { localSdp: SDP }).then(() => dialogsMade++, (err: unknown) => h.log.error({ err }, 'createUAS'));
    });
  });
  after(() => h.close());

  for (const transport of ['udp', 'tcp'] as const) {
    it(`100 calls at 50 cps over ${transport}, none failing`, async () => {
      const before = dialogsMade;
      const r = await runSipp({ scenario: 'uac-call-bye.xml', transport, remote: h.target(transport), calls: 100, rate: 50, service: 'parley', timeoutS: 30 });
      assert.equal(r.code, 0, r.stdout.slice(-3000) + r.errors);
      assert.deepEqual(sippCounts(r.stdout), { ok: 100, failed: 0 });
      assert.equal(dialogsMade - before, 100);
      assert.equal(h.server.stats.dialogs, 0, 'every dialog ended');
    });
  }
});

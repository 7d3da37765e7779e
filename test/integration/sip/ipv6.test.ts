// IPv6 listeners: a SIPp call over [::1] on UDP and TCP, answered by the app.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts } from '../../helpers/sipp.ts';

describe('IPv6', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({
      listen: [
        { transport: 'udp', host: '::1', port: 0 },
        { transport: 'tcp', host: '::1', port: 0 },
      ],
    });
    h.srf.invite((req, res) => {
      h.srf.createUAS(req, res, { localSdp: SDP }).catch(() => undefined);
    });
  });
  after(() => h.close());

  for (const transport of ['udp', 'tcp'] as const) {
    it(`a call over [::1] on ${transport}`, async () => {
      const r = await runSipp({ scenario: 'uac-call-bye.xml', transport, remote: `[::1]:${h.server.sipPort(transport)}`, localIp: '::1', calls: 2, rate: 10, timeoutS: 10 });
      assert.equal(r.code, 0, r.stdout.slice(-2000) + r.errors);
      assert.deepEqual(sippCounts(r.stdout), { ok: 2, failed: 0 });
    });
  }
});

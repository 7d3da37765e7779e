// SUBSCRIBE/NOTIFY dialogs (RFC 6665): a 202 makes a dialog the app's NOTIFY is sent in; a
// NOTIFY with Subscription-State: terminated ends it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp } from '../../helpers/sipp.ts';

describe('SUBSCRIBE dialogs', () => {
  let h: Harness;
  let notified: Promise<unknown> = Promise.resolve();

  before(async () => {
    h = await startHarness();
    const app = h.srf as unknown as { subscribe(f: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void): void };
    app.subscribe((req, res) => {
      notified = h.srf.createUAS(req, res, { localSdp: '', headers: { Expires: '60' } }).then((d) =>
        d.request({ method: 'NOTIFY', headers: { Event: 'conference', 'Subscription-State': 'terminated;reason=noresource' } } as never));
    });
  });
  after(() => h.close());

  for (const transport of ['udp', 'tcp'] as const) {
    it(`over ${transport}: 202, then the app's NOTIFY in the dialog; terminated ends the dialog`, async () => {
      const r = await runSipp({ scenario: 'uac-subscribe.xml', transport, remote: h.target(transport), calls: 1, service: 'room', timeoutS: 10 });
      assert.equal(r.code, 0, r.stdout.slice(-2500) + r.errors);
      await notified;
      assert.equal(h.server.stats.dialogs, 0);
    });
  }
});

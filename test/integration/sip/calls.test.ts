// Real calls over loopback: SIPp as the remote party, drachtio-srf as the app, the embedded
// server in between, over UDP and over TCP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { runSipp, sippCounts, startSipp } from '../../helpers/sipp.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_r, reject) => (t = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms))),
  ]);
}

for (const transport of ['udp', 'tcp'] as const) {
  describe(`calls over ${transport}`, () => {
    let h: Harness;
    let onInvite: Handler = () => undefined;

    before(async () => {
      h = await startHarness();
      h.srf.invite((req, res) => onInvite(req, res));
    });
    after(() => h.close());

    const sipp = (scenario: string, extra: Partial<Parameters<typeof runSipp>[0]> = {}) =>
      runSipp({ scenario, transport, remote: h.target(transport), calls: 1, service: 'parley', timeoutS: 15, ...extra });

    /** Answers the next INVITE; `setup` attaches dialog listeners before any in-dialog request can arrive. */
    const answer = (setup: (d: Srf.Dialog) => void = () => undefined): Promise<Srf.Dialog> => {
      const d = deferred<Srf.Dialog>();
      onInvite = (req, res) => {
        h.srf.createUAS(req, res, { localSdp: SDP }).then((dialog) => {
          setup(dialog);
          d.resolve(dialog);
        }, (err: unknown) => h.log.error({ err }, 'createUAS failed'));
      };
      return d.promise;
    };

    it('answers a call (createUAS) and sees the caller hang up', async () => {
      const gone = deferred<unknown>();
      const dialog = answer((d) => d.on('destroy', gone.resolve));
      const run = sipp('uac-call-bye.xml');
      const d = await withTimeout(dialog, 10000, 'dialog');
      assert.match(d.sip.remoteTag, /SIPpTag/);
      assert.equal(d.remote.sdp.includes('m=audio'), true);
      const destroyed = gone.promise;
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.errors);
      assert.deepEqual(sippCounts(r.stdout), { ok: 1, failed: 0 });
      await withTimeout(destroyed, 5000, 'destroy');
      assert.equal(h.server.stats.dialogs, 0);
    });

    it('the app hangs up after the ACK (BYE from the app)', async () => {
      const acked = deferred<unknown>();
      const dialog = answer((d) => d.on('ack', acked.resolve));
      const run = sipp('uac-wait-bye.xml');
      const d = await withTimeout(dialog, 10000, 'dialog');
      await withTimeout(acked.promise, 5000, 'ack');
      await d.destroy();
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.errors);
      assert.equal(h.server.stats.dialogs, 0);
    });

    it('CANCEL before the answer: 200 + 487 to the caller, cancel event to the app', async () => {
      const cancelled = deferred<void>();
      onInvite = (req, res) => {
        req.on('cancel', () => cancelled.resolve());
        res.send(180);
      };
      const r = await sipp('uac-cancel.xml');
      assert.equal(r.code, 0, r.stdout + r.errors);
      await withTimeout(cancelled.promise, 5000, 'cancel event');
      assert.equal(h.server.stats.dialogs, 0);
    });

    it('re-INVITE: the app gets modify with the new offer and answers it', async () => {
      const mod = deferred<string>();
      const dialog = answer((d) => d.on('modify', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
        res.send(200, { body: SDP });
        mod.resolve(req.body);
      }));
      const run = sipp('uac-reinvite.xml');
      await withTimeout(dialog, 10000, 'dialog');
      const modified = mod.promise;
      const body = await withTimeout(modified, 10000, 'modify');
      assert.match(body, /m=audio/);
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.errors);
    });

    it('INFO inside the dialog reaches the app', async () => {
      const inf = deferred<string>();
      const dialog = answer((d) => d.on('info', (req: Srf.SrfRequest, res: Srf.SrfResponse) => {
        res.send(200);
        inf.resolve(req.body);
      }));
      const run = sipp('uac-info.xml');
      await withTimeout(dialog, 10000, 'dialog');
      const info = inf.promise;
      assert.match(await withTimeout(info, 10000, 'info'), /Signal=5/);
      const r = await run;
      assert.equal(r.code, 0, r.stdout + r.errors);
    });

    it('places a call to a SIPp UAS (createUAC) and hangs up', async () => {
      const uas = await startSipp({ scenario: 'uas-answer.xml', transport, calls: 1, timeoutS: 15 });
      const uri = `sip:callee@127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      const d = await withTimeout(h.srf.createUAC(uri, { localSdp: SDP }), 10000, 'createUAC');
      assert.ok(d.sip.remoteTag);
      assert.equal(h.server.stats.dialogs, 1);
      await d.destroy();
      const r = await uas.done;
      assert.equal(r.code, 0, r.stdout + r.errors);
      assert.equal(h.server.stats.dialogs, 0);
    });

    it('an outbound proxy (createUAC opts.proxy) receives the INVITE whatever the Request-URI says', async () => {
      const uas = await startSipp({ scenario: 'uas-answer.xml', transport, calls: 1, timeoutS: 10 });
      const proxy = `sip:127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      const d = await withTimeout(h.srf.createUAC('sip:callee@unresolvable.invalid', { localSdp: SDP, proxy } as never), 10000, 'createUAC');
      await d.destroy();
      const r = await uas.done;
      assert.equal(r.code, 0, r.stdout + r.errors);
    });

    it('a placed call rejected with 486 fails with that status, and the stack ACKs the 486', async () => {
      const uas = await startSipp({ scenario: 'uas-reject.xml', transport, calls: 1, timeoutS: 10 });
      const uri = `sip:callee@127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      await assert.rejects(h.srf.createUAC(uri, { localSdp: SDP }), (err: { status?: number }) => err.status === 486);
      const r = await uas.done;
      assert.equal(r.code, 0, r.stdout + r.errors);
    });

    it('the app cancels a placed call while it rings: CANCEL goes out, the call fails with 487', async () => {
      const uas = await startSipp({ scenario: 'uas-ring-cancel.xml', transport, calls: 1, timeoutS: 10 });
      const uri = `sip:callee@127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      let uacReq: Srf.SrfRequest | null = null;
      // At run time drachtio-srf calls cbRequest(err, req); its typings say cbRequest(req).
      const callbacks = {
        cbRequest: (_err: unknown, req: Srf.SrfRequest) => (uacReq = req),
        cbProvisional: (res: Srf.SrfResponse) => {
          if (res.status === 180) (uacReq as unknown as { cancel(): void }).cancel();
        },
      } as unknown as { cbRequest(req: Srf.SrfRequest): void };
      const call = h.srf.createUAC(uri, { localSdp: SDP }, callbacks);
      await assert.rejects(call, (err: { status?: number }) => err.status === 487);
      const r = await uas.done;
      assert.equal(r.code, 0, r.stdout + r.errors);
    });

    it('a SIPp callee hangs up a call the app placed (BYE from the far end)', async () => {
      const uas = await startSipp({ scenario: 'uas-sends-bye.xml', transport, calls: 1, timeoutS: 15 });
      const uri = `sip:callee@127.0.0.1:${uas.port}${transport === 'tcp' ? ';transport=tcp' : ''}`;
      const d = await withTimeout(h.srf.createUAC(uri, { localSdp: SDP }), 10000, 'createUAC');
      await withTimeout(new Promise((r) => d.on('destroy', r)), 10000, 'destroy');
      const r = await uas.done;
      assert.equal(r.code, 0, r.stdout + r.errors);
    });
  });
}

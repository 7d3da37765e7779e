// RFC 4028 session timers through the embedded server, with SIPp as the caller and a
// drachtio-srf app that answers (and knows nothing of timers): an interval below
// Min-SE gets 422 with our Min-SE; with refresher=uac the server answers so, and
// ends the call with a BYE when the caller does not refresh; with refresher=uas
// the server refreshes with UPDATEs. Min-SE is lowered to 1 s here so the tests
// take seconds (the default is RFC 4028's 90 s, checked by the 422 test).
// No wall-clock upper bound (a loaded machine runs timers late): what is checked is
// the mechanism, from the server's log: which timer acted (the expiry of a session
// the peer did not refresh, or our refresh), how many refreshes were answered, and
// that nothing happened before the timer was due (lower bounds).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { runSipp, startSipp } from '../../helpers/sipp.ts';
import { connectSrf } from '../../../src/signaling/srf-connection.ts';
import { EmbeddedSipServer } from '../../../src/sip/embedded-server.ts';
import { DRACHTIO_BIN, startRealDrachtio } from '../../helpers/real-drachtio.ts';
import { SDP, startHarness, testLogger, type Harness } from '../../helpers/sip-harness.ts';

describe('session timers (RFC 4028)', () => {
  let h: Harness;
  let strict: Harness;
  const destroyed: string[] = [];
  // The server's log, debug included ('session refreshed' is a debug line).
  const capture = captureLog('debug');
  /** The log lines from line `from` on whose message matches. */
  const logged = (from: number, msg: RegExp): Array<Record<string, unknown>> =>
    capture.lines().slice(from).filter((l) => typeof l.msg === 'string' && msg.test(l.msg));
  /** The session expired: the server's BYE for a peer that did not refresh. */
  const EXPIRED = /^no session refresh from the peer: ending the dialog$/;
  /** One of our refreshes (an UPDATE) was answered 2xx and re-armed the timer. */
  const REFRESHED = /^session refreshed$/;

  before(async () => {
    h = await startHarness({ timers: { ...defaultConfig.sip.timers, minSE: 1 } }, capture.log);
    h.srf.invite((req, res) => {
      h.srf.createUAS(req, res, { localSdp: SDP }).then(
        (d) => d.on('destroy', () => destroyed.push(d.sip.callId)),
        (err: unknown) => h.log.error({ err }, 'createUAS failed'),
      );
    });
    strict = await startHarness();
    strict.srf.invite((_req, res) => res.send(500)); // never reached: the server answers 422 itself
  });

  after(() => {
    h?.close();
    strict?.close();
  });

  it('an interval below Min-SE (90 s by default) is refused with 422 and Min-SE: 90', async () => {
    const r = await runSipp({ scenario: 'uac-session-too-small.xml', transport: 'udp', remote: strict.target('udp'), calls: 1, service: 'parley', timeoutS: 10 });
    assert.equal(r.code, 0, r.stdout + r.errors);
  });

  it('the 422 carries Min-SE once, with the configured value (RFC 4028 §6)', async () => {
    const raised = await startHarness({ timers: { ...defaultConfig.sip.timers, minSE: 120 } });
    const c = await RawSipClient.open();
    try {
      for (const [server, want] of [[strict, '90'], [raised, '120']] as const) {
        const port = Number(server.target('udp').split(':')[1]);
        c.send(port, request('INVITE', c.port, { 'Session-Expires': '60', Supported: 'timer', 'Content-Type': 'application/sdp' }, SDP).text);
        const res = await c.nextMatching(/^SIP\/2\.0 422 /);
        const minSE = res.split('\r\n').filter((l) => /^Min-SE\s*:/i.test(l));
        assert.deepEqual(minSE.map((l) => l.split(':')[1]!.trim()), [want], res);
      }
    } finally {
      c.close();
      raised.close();
    }
  });

  it('a server that lets a small interval through (as drachtio-server does): the app answers 422 with its Min-SE, and its 200 names the refresher', async () => {
    const log = testLogger();
    const base = { ...defaultConfig.sip, listen: [{ transport: 'udp' as const, host: '127.0.0.1', port: 0 }], control: { host: '127.0.0.1', port: 0, secret: 's' } };
    const lax = await EmbeddedSipServer.start({ sip: { ...base, timers: { ...base.timers, minSE: 1 } }, log });
    const conn = await connectSrf({ sip: { ...base, server: 'remote', control: { ...base.control, port: lax.controlPort }, timers: { ...base.timers, minSE: 120 } }, log });
    conn.srf.invite((req, res) => {
      conn.srf.createUAS(req, res, { localSdp: SDP }).catch((err: unknown) => log.error({ err }, 'createUAS failed'));
    });
    const c = await RawSipClient.open();
    try {
      const port = lax.sipPort('udp');
      c.send(port, request('INVITE', c.port, { 'Session-Expires': '60', Supported: 'timer', 'Content-Type': 'application/sdp' }, SDP).text);
      const res = await c.nextMatching(/^SIP\/2\.0 [2-6]\d\d /);
      assert.match(res, /^SIP\/2\.0 422 /);
      assert.deepEqual(res.split('\r\n').filter((l) => /^Min-SE\s*:/i.test(l)), ['Min-SE: 120'], res);
      // No refresher named, the caller supports timers: it refreshes (RFC 4028 §9), and the 200 says so.
      c.send(port, request('INVITE', c.port, { 'Session-Expires': '1800', Supported: 'timer', 'Content-Type': 'application/sdp' }, SDP).text);
      const ok = await c.nextMatching(/^SIP\/2\.0 200 /);
      assert.match(ok, /^Session-Expires: 1800;refresher=uac\r$/m);
      assert.match(ok, /^Require: timer\r$/m);
    } finally {
      c.close();
      conn.close();
      lax.close();
    }
  });

  // Only with a built drachtio-server (never in the test command): the same answers from it.
  it('a real drachtio-server: the app answers 422 with Min-SE, and its 200 names the refresher', { skip: !DRACHTIO_BIN }, async () => {
    const d = await startRealDrachtio();
    d.conn.srf.invite((req, res) => {
      d.conn.srf.createUAS(req, res, { localSdp: SDP }).catch((err: unknown) => h.log.error({ err }, 'createUAS failed'));
    });
    const c = await RawSipClient.open();
    try {
      c.send(d.sipPort, request('INVITE', c.port, { 'Session-Expires': '60', Supported: 'timer', 'Content-Type': 'application/sdp' }, SDP).text);
      const res = await c.nextMatching(/^SIP\/2\.0 [2-6]\d\d /);
      assert.match(res, /^SIP\/2\.0 422 /);
      assert.deepEqual(res.split('\r\n').filter((l) => /^Min-SE\s*:/i.test(l)), ['Min-SE: 90'], res);
      c.send(d.sipPort, request('INVITE', c.port, { 'Session-Expires': '1800', Supported: 'timer', 'Content-Type': 'application/sdp' }, SDP).text);
      const ok = await c.nextMatching(/^SIP\/2\.0 200 /);
      assert.match(ok, /^Session-Expires: 1800;refresher=uac\r$/m);
      assert.match(ok, /^Require: timer\r$/m);
    } finally {
      c.close();
      await d.close();
    }
  });

  it('refresher=uac: the 200 says so with Require: timer; no refresh → the server BYEs with a Reason and tells the app', async () => {
    const from = capture.lines().length;
    const t0 = Date.now();
    // SIPp checks the BYE's Reason (Session timer expired); its timeout is only a hang guard.
    const r = await runSipp({ scenario: 'uac-session-expires.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'parley', timeoutS: 30 });
    const took = Date.now() - t0;
    assert.equal(r.code, 0, r.stdout + r.errors);
    // 3 s interval, expiry at 3 − min(32, 3/3) = 2 s after the 200: not before.
    assert.ok(took >= 1800, `BYE after ${took} ms: before the session expired`);
    // The BYE came from the expiry timer of a session the peer was to refresh (3 s), once; we sent no refresh.
    assert.deepEqual(logged(from, EXPIRED).map((l) => l.interval), [3], 'one expiry of the 3 s session');
    assert.equal(logged(from, REFRESHED).length, 0, 'the server did not refresh a session the caller refreshes');
    const until = Date.now() + 3000;
    while (destroyed.length === 0 && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    assert.equal(destroyed.length, 1, 'the app saw the dialog end');
    assert.equal(h.server.stats.dialogs, 0, 'no dialog left');
  });

  it('refresher=uac: UPDATEs from the caller refresh the session (each 200 carries the timer); the server does not end it', async () => {
    const before = destroyed.length;
    const from = capture.lines().length;
    const t0 = Date.now();
    const r = await runSipp({ scenario: 'uac-session-refreshed.xml', transport: 'udp', remote: h.target('udp'), calls: 1, service: 'parley', timeoutS: 30 });
    assert.equal(r.code, 0, r.stdout + r.errors);
    assert.ok(Date.now() - t0 >= 4400, 'the call outlived its first expiry (2 s) by the refreshes');
    assert.equal(logged(from, EXPIRED).length, 0, 'the refreshed session never expired');
    const until = Date.now() + 3000;
    while (destroyed.length === before && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    assert.equal(destroyed.length, before + 1);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`refresher=uas over ${transport}: the server refreshes with an UPDATE every half interval; the call lives on`, async () => {
      const before = destroyed.length;
      const from = capture.lines().length;
      const t0 = Date.now();
      const r = await runSipp({ scenario: 'uac-session-refresh.xml', transport, remote: h.target(transport), calls: 1, service: 'parley', timeoutS: 30 });
      const took = Date.now() - t0;
      assert.equal(r.code, 0, r.stdout + r.errors);
      // Two UPDATEs at half the 2 s interval each (SIPp waits for both, then sends its BYE): not sooner.
      assert.ok(took >= 1800, `two refreshes in ${took} ms: sooner than half the interval each`);
      // Each was ours, answered 2xx, and re-armed the timer for the same 2 s; the session never expired.
      assert.deepEqual(logged(from, REFRESHED).map((l) => [l.interval, l.weRefresh]), [[2, true], [2, true]], 'two refreshes of the 2 s session');
      assert.equal(logged(from, EXPIRED).length, 0, 'no expiry');
      const until = Date.now() + 3000;
      while (destroyed.length === before && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
      assert.equal(destroyed.length, before + 1, 'the call ended by the caller BYE');
    });
  }

  it('as the UAC (a B leg), refresher=uac in the callee 2xx: the server refreshes with UPDATEs', async () => {
    const from = capture.lines().length;
    const uas = await startSipp({ scenario: 'uas-session-uac-refreshes.xml', transport: 'udp', calls: 1, timeoutS: 30 });
    const d = await h.srf.createUAC(`sip:callee@127.0.0.1:${uas.port}`, { localSdp: SDP });
    const gone = new Promise<void>((resolve) => d.on('destroy', () => resolve()));
    const t0 = Date.now();
    const r = await uas.done;
    assert.equal(r.code, 0, r.stdout + r.errors);
    assert.ok(Date.now() - t0 >= 1800, 'two refreshes, a second apart');
    await gone; // the callee's BYE after the refreshes
    assert.equal(logged(from, REFRESHED).length, 2, 'two refreshes of ours answered 2xx');
  });

  it('as the UAC, refresher=uas and the callee never refreshes: the server ends the call with a BYE and tells the app', async () => {
    const from = capture.lines().length;
    // SIPp checks the BYE's Reason (Session timer expired); its timeout is only a hang guard.
    const uas = await startSipp({ scenario: 'uas-session-expires.xml', transport: 'udp', calls: 1, timeoutS: 30 });
    const d = await h.srf.createUAC(`sip:callee@127.0.0.1:${uas.port}`, { localSdp: SDP });
    const t0 = Date.now();
    await new Promise<void>((resolve) => d.on('destroy', () => resolve()));
    const took = Date.now() - t0;
    assert.ok(took >= 1800, `ended ${took} ms after the answer: before the session expired (3 s interval: 2 s)`);
    const r = await uas.done;
    assert.equal(r.code, 0, r.stdout + r.errors);
    // Ended by the expiry timer of the 3 s session the callee was to refresh, once; we sent no refresh.
    assert.deepEqual(logged(from, EXPIRED).map((l) => l.interval), [3], 'one expiry of the 3 s session');
    assert.equal(logged(from, REFRESHED).length, 0);
  });
});

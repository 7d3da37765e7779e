// Attacks on the drachtio control port of the embedded SIP server from a client
// without the secret: one that connects and says nothing, one that begins a frame
// and stops. Each held a socket and its framer for ever (any number of them); now
// each is cut off after AUTH_DEADLINE_MS, and the real app (drachtio-srf,
// authenticated) keeps serving calls.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { connectSrf } from '../../../src/signaling/srf-connection.ts';
import { AUTH_DEADLINE_MS } from '../../../src/sip/control/control-connection.ts';
import { MAX_UNAUTHENTICATED } from '../../../src/sip/control/control-server.ts';
import { captureLog } from '../../helpers/log-capture.ts';
import { RawSipClient } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

describe('adversary: the control port without the secret', () => {
  let h: Harness;
  let startedAt = 0;

  before(async () => {
    h = await startHarness();
    startedAt = performance.now();
    h.srf.invite((req, res) => {
      h.srf.createUAS(req, res, { localSdp: SDP }).catch((err: unknown) => h.log.error({ err }, 'createUAS'));
    });
  });
  after(() => h.close());

  /** A connection that sends `first` (maybe nothing) and then nothing more; resolves with the ms until the server closed it. */
  async function silent(first: string): Promise<number> {
    const s = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
    s.on('error', () => undefined);
    s.resume();
    await new Promise((r) => s.once('connect', r));
    const t0 = performance.now();
    const closed = new Promise<number>((resolve) => s.once('close', () => resolve(performance.now() - t0)));
    if (first) s.write(first);
    let t: NodeJS.Timeout;
    const limit = new Promise<number>((_, reject) => (t = setTimeout(() => reject(new Error(`still connected after ${3 * AUTH_DEADLINE_MS} ms: ${JSON.stringify(first)}`)), 3 * AUTH_DEADLINE_MS)));
    try {
      return await Promise.race([closed, limit]);
    } finally {
      clearTimeout(t!);
      s.destroy();
    }
  }

  it('a client that never authenticates (silent, or a frame begun and left) is disconnected at the deadline', async () => {
    const before = h.server.controlPort;
    const ms = await Promise.all([silent(''), silent('99999#id|authenticate|'), silent('12')]);
    for (const m of ms) assert.ok(m >= AUTH_DEADLINE_MS - 100, `closed at ${m.toFixed(0)} ms: not before the deadline`);
    assert.equal(h.server.controlPort, before);
  });

  it('the authenticated app is not cut off: a call still gets its 200 after the deadline passed', async () => {
    // The app connected in before(); the first test outlasted the deadline.
    assert.ok(performance.now() - startedAt > AUTH_DEADLINE_MS);
    const c = await RawSipClient.open();
    try {
      const port = h.server.sipPort('udp');
      const callId = `adv-control-${process.pid}`;
      const invite = [
        'INVITE sip:parley@127.0.0.1 SIP/2.0',
        `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=z9hG4bK-advctl-1`,
        'Max-Forwards: 70',
        `From: <sip:adv@127.0.0.1>;tag=a1`,
        'To: <sip:parley@127.0.0.1>',
        `Call-ID: ${callId}`,
        'CSeq: 1 INVITE',
        `Contact: <sip:adv@127.0.0.1:${c.port}>`,
        'Content-Type: application/sdp',
        `Content-Length: ${Buffer.byteLength(SDP)}`,
        '',
        SDP,
      ].join('\r\n');
      c.send(port, invite);
      assert.match(await c.nextMatching(/^SIP\/2\.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 200 /);
    } finally {
      c.close();
    }
  });
});

describe('adversary: a flood of connections to the control port', () => {
  const capture = captureLog('warn');
  let h: Harness;
  before(async () => {
    h = await startHarness({}, capture.log);
  });
  after(() => h.close());

  it('past MAX_UNAUTHENTICATED waiting to authenticate, the oldest is closed to make room; an app that authenticates still gets in', async () => {
    const extra = 8;
    const closed: number[] = [];
    const sockets: net.Socket[] = [];
    try {
      for (let i = 0; i < MAX_UNAUTHENTICATED + extra; i++) {
        const s = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
        s.on('error', () => undefined);
        s.once('close', () => closed.push(i));
        sockets.push(s);
        await new Promise((r) => s.once('connect', r).once('close', r));
      }
      await waitFor(`${extra} connections closed`, () => closed.length >= extra, 3 * AUTH_DEADLINE_MS);
      assert.deepEqual(closed.slice(0, extra), [...Array(extra).keys()], 'the oldest are closed first');
      assert.ok(capture.find(/too many connections waiting to authenticate, closed the oldest/).length >= 1, 'the limit is logged');
      // A drachtio-srf app connecting now authenticates (another flood connection makes room for it).
      const sip = { ...defaultConfig.sip, server: 'remote' as const, control: { host: '127.0.0.1', port: h.server.controlPort, secret: 'test-secret' } };
      const app = await connectSrf({ sip, log: capture.log });
      app.close();
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

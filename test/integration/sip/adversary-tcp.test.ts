// Connections that hold a file descriptor without delivering SIP (an adversary's slowloris,
// or 20,000 idle TCP connections: Parley's RTP sockets and recordings then found no free
// descriptor and every new call got 500). A connection owes a whole message within 64*T1
// of opening or of beginning one; past sip.maxConnections the oldest connection that never
// sent a message makes room, so real clients still get in.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { defaultConfig } from '../../../src/config/schema.ts';
import { freePort } from '../../helpers/free-port.ts';
import { request } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { makeTestPki, type TestPki } from '../../helpers/tls-certs.ts';

async function open(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  s.resume();
  await new Promise((r) => s.once('connect', r));
  return s;
}

function closedWithin(s: net.Socket, ms: number): Promise<boolean> {
  if (s.destroyed) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Sends an OPTIONS on s and waits for its 200. */
async function options(s: net.Socket): Promise<void> {
  let got = '';
  const answered = new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer on the connection; got ${JSON.stringify(got)}`)), 10_000);
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (/^SIP\/2\.0 200 /m.test(got)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  const r = request('OPTIONS', s.localPort ?? 0, { Via: `SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bK-adv-${s.localPort}` });
  s.write(r.text);
  await answered;
}

function answerOptions(h: Harness): void {
  // srf.options exists at run time; the typings leave it out.
  (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
}

describe('adversary: TCP connections that deliver no SIP', () => {
  describe('a message is owed within 64*T1 (T1 = 50 ms: 3.2 s)', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ timers: { ...defaultConfig.sip.timers, t1: 50 } });
      answerOptions(h);
    });
    after(() => h.close());

    it('a message whose Content-Length passes sip.maxMessageSize is answered 513 on the connection before it closes', async () => {
      const s = await open(h.server.sipPort('tcp'));
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      const r = request('OPTIONS', s.localPort ?? 0, { Via: `SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bK-adv-big`, 'Content-Length': '99999999' });
      s.write(r.text);
      assert.ok(await closedWithin(s, 10_000), 'the connection stayed open');
      assert.match(got, /^SIP\/2\.0 513 /, `the sender heard ${JSON.stringify(got.slice(0, 80))}`);
      assert.ok(got.includes('branch=z9hG4bK-adv-big'));
    });

    it('a header block that runs past sip.maxMessageSize (a 70 kB header) is answered 513 before the close, when its Via came first', async () => {
      const s = await open(h.server.sipPort('tcp'));
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      const r = request('OPTIONS', s.localPort ?? 0, { Via: `SIP/2.0/TCP 127.0.0.1:${s.localPort};branch=z9hG4bK-adv-long`, Subject: 'x'.repeat(70_000) });
      s.write(r.text);
      assert.ok(await closedWithin(s, 10_000), 'the connection stayed open');
      assert.match(got, /^SIP\/2\.0 513 /, `the sender heard ${JSON.stringify(got.slice(0, 80))}`);
      assert.ok(got.includes('branch=z9hG4bK-adv-long'));
    });

    it('a silent connection and one dripping a message are closed; one that sent a whole message stays', async () => {
      const port = h.server.sipPort('tcp');
      const silent = await open(port);
      const drip = await open(port);
      const good = await open(port);
      await options(good);
      const text = request('OPTIONS', drip.localPort ?? 0).text;
      let i = 0;
      // One byte every 100 ms: each read is activity, so only a deadline on the message catches it.
      const dripper = setInterval(() => {
        if (!drip.destroyed && i < text.length) drip.write(text[i++]);
      }, 100);
      const [silentClosed, dripClosed] = await Promise.all([closedWithin(silent, 15_000), closedWithin(drip, 15_000)]);
      clearInterval(dripper);
      assert.ok(silentClosed, 'the silent connection is still open 15 s later');
      assert.ok(dripClosed, `the dripping connection is still open 15 s later (${i} bytes sent)`);
      assert.ok(i < text.length, 'the drip finished its message before the deadline: the test proves nothing');
      assert.equal(good.destroyed, false, 'the connection that sent a whole message was closed');
      await options(good); // and it still works
      good.destroy();
    });
  });

  describe('sip.maxConnections: 20', () => {
    let h: Harness;
    before(async () => {
      h = await startHarness({ maxConnections: 20 });
      answerOptions(h);
    });
    after(() => h.close());

    it('60 idle connections: the oldest are closed at once to make room, and a real client gets its 200', async () => {
      const port = h.server.sipPort('tcp');
      const idle: net.Socket[] = [];
      for (let i = 0; i < 60; i++) {
        const s = await open(port);
        s.write('INV'); // begun, never finished
        idle.push(s);
      }
      const client = await open(port);
      await options(client);
      // Default T1: the deadline is 32 s away, so whatever closed here was made room for.
      const closed = await Promise.all(idle.map((s) => closedWithin(s, 3000)));
      const n = closed.filter(Boolean).length;
      assert.ok(n >= 41, `only ${n} of 60 idle connections were closed; at most 20 may stay`);
      assert.ok(closed.slice(0, 40).every(Boolean), 'the oldest idle connections are the ones closed');
      assert.equal(client.destroyed, false);
      client.destroy();
      for (const s of idle) s.destroy();
    });
  });
});

describe('adversary: TLS connections that never finish their handshake', () => {
  let pki: TestPki;
  let h: Harness;
  let port: number;
  before(async () => {
    pki = await makeTestPki();
    port = await freePort();
    h = await startHarness({
      timers: { ...defaultConfig.sip.timers, t1: 50 },
      maxConnections: 5,
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port, cert: pki.server.certFile, key: pki.server.keyFile },
      ],
    });
  });
  after(async () => {
    h.close();
    await pki.remove();
  });

  it('40 silent TCP connections to the TLS port: past 2 x sip.maxConnections refused, the rest closed after 64*T1', async () => {
    const socks: net.Socket[] = [];
    for (let i = 0; i < 40; i++) socks.push(await open(port));
    const early = await Promise.all(socks.map((s) => closedWithin(s, 2000)));
    assert.ok(early.filter(Boolean).length >= 30, `${early.filter(Boolean).length} of 40 closed at once; at most 10 may be handshaking`);
    const late = await Promise.all(socks.map((s) => closedWithin(s, 15_000)));
    assert.ok(late.every(Boolean), `${late.filter((c) => !c).length} handshakes still open 15 s later (the deadline is 3.2 s)`);
  });
});

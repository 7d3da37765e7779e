// A per-source budget of SIP input (sip.sourceBytesPerSecond, sip.sourceBurstBytes). Before
// it, one TCP connection sending OPTIONS of 60 KB (10,000 small headers) had every one parsed
// back to back and held the main thread at 100% (bench/adversary/tcp-flood.ts), and a UDP
// flood was parsed datagram by datagram whatever its rate. Now a stream from a source over
// budget stops being read until the bucket refills (nothing dropped), UDP datagrams from it
// are dropped unparsed and counted, and another source address (127.0.0.2) is served.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { waitFor } from '../../helpers/wait.ts';

/**
 * 120 KB a second and of burst: 120 small requests (each counts at least 1 KB), or a fifth of
 * one 60 KB OPTIONS of 10,000 headers (each line counts at least 64 bytes: 640 KB).
 */
const BUDGET = 120 * 1024;
const FLOOD = 40;

function bigOptions(i: number): string {
  return `OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5;branch=z9hG4bK-flood-${i}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: flood-${i}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n${'X: a\r\n'.repeat(10000)}Content-Length: 0\r\n\r\n`;
}

/** Counts the status lines that arrive on a stream. */
function countAnswers(s: net.Socket): { readonly n: number; next(): Promise<string> } {
  let buf = '';
  let n = 0;
  let waiter: ((m: string) => void) | null = null;
  s.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    let at: number;
    while ((at = buf.indexOf('\r\n\r\n')) >= 0) {
      const msg = buf.slice(0, at);
      buf = buf.slice(at + 4);
      if (!msg.startsWith('SIP/2.0 ')) continue;
      n++;
      const w = waiter;
      waiter = null;
      w?.(msg);
    }
  });
  return {
    get n() {
      return n;
    },
    next: () => new Promise<string>((r) => (waiter = r)),
  };
}

async function connect(port: number, localAddress: string): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  await new Promise<void>((r, j) => s.once('connect', r).once('error', j));
  return s;
}

describe('sip.sourceBytesPerSecond', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ sourceBytesPerSecond: BUDGET, sourceBurstBytes: BUDGET, sourceCpuMsPerSecond: 0 });
    // srf.options exists at run time; the typings leave it out.
    (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
    await waitFor('the OPTIONS route', () => (h.server.routedVerbs.includes('options') ? true : undefined), 5000);
  });
  after(() => h.close());

  it('slows a TCP flood of 60 KB OPTIONS to the budget, and answers another source meanwhile', async () => {
    const port = h.server.sipPort('tcp');
    const flood = await connect(port, '127.0.0.1');
    const floodAnswers = countAnswers(flood);
    for (let i = 0; i < FLOOD; i++) flood.write(bigOptions(i));
    await waitFor('the first flood answer', () => floodAnswers.n >= 1 || undefined);

    // 30 OPTIONS one after another from 127.0.0.2, each answered 200.
    const honest = await connect(port, '127.0.0.2');
    const honestAnswers = countAnswers(honest);
    const hp = honest.localPort!;
    for (let i = 0; i < 30; i++) {
      const r = request('OPTIONS', hp, { Via: `SIP/2.0/TCP 127.0.0.2:${hp};branch=z9hG4bK-honest-${process.pid}-${i}`, Contact: null });
      const answer = honestAnswers.next();
      honest.write(r.text);
      assert.match(await answer, /^SIP\/2\.0 200/);
    }
    // Meanwhile the flood got what the budget allows (one, then one every ~5 s), not its 40
    // parsed back to back.
    assert.ok(floodAnswers.n < FLOOD / 2, `flood answered ${floodAnswers.n} of ${FLOOD} while 30 honest requests were answered`);
    assert.ok(h.server.stats.overBudget.streamPauses >= 1, 'the flood connection was paused');
    assert.equal(h.server.stats.overBudget.udpDropped, 0);
    // Back-pressure, not loss: the flood is still being served, more of it as the bucket refills.
    const before = floodAnswers.n;
    await waitFor('more flood answers', () => floodAnswers.n > before || undefined, 10_000);
    assert.ok(!flood.destroyed, 'the flood connection is still open');
    flood.destroy();
    honest.destroy();
  });

  it('drops UDP datagrams from a source over budget unparsed, counts them, and serves another source', async () => {
    const port = h.server.sipPort('udp');
    const flood = await RawSipClient.open();
    let answered = 0;
    (flood as unknown as { socket: dgram.Socket }).socket.on('message', () => answered++);
    const N = 400;
    const dropped0 = h.server.stats.overBudget.udpDropped;
    for (let i = 0; i < N; i++) flood.send(port, request('OPTIONS', flood.port).text);
    await waitFor('every datagram answered or dropped', () => answered + h.server.stats.overBudget.udpDropped - dropped0 >= N || undefined, 10_000);
    const dropped = h.server.stats.overBudget.udpDropped - dropped0;
    // 120 KB of budget is 120 small requests at 1 KB each, plus what refilled meanwhile.
    assert.ok(dropped >= N / 2, `dropped ${dropped} of ${N}`);
    assert.equal(answered + dropped, N);

    // Another source address (127.0.0.2) is served.
    const other = dgram.createSocket('udp4');
    await new Promise<void>((r) => other.bind(0, '127.0.0.2', () => r()));
    const otherPort = other.address().port;
    const got = new Promise<string>((resolve) => other.once('message', (m) => resolve(m.toString())));
    const r = request('OPTIONS', otherPort, { Via: `SIP/2.0/UDP 127.0.0.2:${otherPort};branch=z9hG4bK-other-udp-${process.pid}` });
    other.send(Buffer.from(r.text), port, '127.0.0.1');
    assert.match(await got, /^SIP\/2\.0 200/);
    other.close();
    flood.close();
  });
});

describe('sip.sourceMaxPausedMs', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ sourceBytesPerSecond: BUDGET, sourceBurstBytes: BUDGET, sourceCpuMsPerSecond: 0, sourceMaxPausedMs: 1000 });
    (h.srf as unknown as { options(f: (q: unknown, s: { send(n: number): void }) => void): void }).options((_req, res) => res.send(200));
    await waitFor('the OPTIONS route', () => (h.server.routedVerbs.includes('options') ? true : undefined), 5000);
  });
  after(() => h.close());

  it('closes a paused connection whose source would stay over budget past it', async () => {
    const flood = await connect(h.server.sipPort('tcp'), '127.0.0.1');
    const floodAnswers = countAnswers(flood);
    const closed = new Promise<void>((r) => flood.once('close', () => r()));
    // One 60 KB OPTIONS of 10,000 lines costs 640 KB: 4.3 s to refill at 120 KB/s, past 1 s.
    flood.write(bigOptions(0));
    flood.write(bigOptions(1));
    await closed;
    assert.equal(floodAnswers.n, 1, 'the first request was answered before the connection was closed');
    assert.equal(h.server.stats.overBudget.streamPauses, 1, 'paused once, never resumed');
    assert.equal(h.server.stats.overBudget.streamClosed, 1);
  });
});

// Fuzz: thousands of mutated SIP messages into the parser and into a running server (UDP,
// TCP and the control port); afterwards the server must still answer a valid call.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SipError } from '../../../src/sip/message/sip-error.ts';
import { ParseError, parseMessage } from '../../../src/sip/message/parse-message.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts } from '../../helpers/sipp.ts';
import { Mutator } from './mutator.ts';

const SEED_DIR = new URL('./seeds/', import.meta.url).pathname;
const seeds = readdirSync(SEED_DIR).filter((f) => f.endsWith('.sip')).map((f) => readFileSync(SEED_DIR + f));

describe('SIP fuzz', () => {
  let h: Harness;

  before(async () => {
    h = await startHarness({ maxMessageSize: 8192 });
    h.srf.invite((req, res) => {
      h.srf.createUAS(req, res, { localSdp: SDP }).catch(() => undefined);
    });
    // srf.register exists at run time; the typings leave it out.
    (h.srf as unknown as { register(f: (q: unknown, s: { send(n: number): void }) => void): void }).register((_req, res) => res.send(200));
  });
  after(() => h.close());

  it('the parser only ever fails with ParseError or SipError (20,000 mutations)', () => {
    const m = new Mutator(12345);
    let parsed = 0;
    for (let i = 0; i < 20000; i++) {
      const input = m.mutate(seeds[i % seeds.length]);
      try {
        const msg = parseMessage(input);
        parsed++;
        // the views the core reads must fail cleanly too
        for (const f of [() => msg.callId, () => msg.cseq, () => msg.from, () => msg.to, () => msg.topVia]) {
          try {
            f();
          } catch (err) {
            assert.ok(err instanceof SipError, `case ${i}: ${String(err)}`);
          }
        }
        msg.toBuffer();
      } catch (err) {
        assert.ok(err instanceof ParseError || err instanceof SipError, `case ${i}: ${String(err)}`);
      }
    }
    assert.ok(parsed > 1000, `some mutations still parse (${parsed})`);
  });

  it('5,000 mutated datagrams, 500 mutated TCP streams and 500 mutated control commands leave the server serving', async () => {
    const m = new Mutator(777);
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const udpPort = h.server.sipPort('udp');
    for (let i = 0; i < 5000; i++) {
      sock.send(m.mutate(seeds[i % seeds.length]), udpPort, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    for (let i = 0; i < 500; i++) {
      const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
      s.on('error', () => undefined);
      s.resume();
      await new Promise((r) => s.once('connect', r));
      s.end(m.mutate(seeds[i % seeds.length]));
      if (i % 50 === 0) await new Promise((r) => s.once('close', r));
    }
    // An authenticated control client sending mutated commands.
    const ctl = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
    ctl.on('error', () => undefined);
    ctl.resume();
    await new Promise((r) => ctl.once('connect', r));
    const send = (p: string) => ctl.write(`${Buffer.byteLength(p)}#${p}`);
    send('a1|authenticate|test-secret|');
    const kinds = ['sip||', 'sip|x|', 'sip||nope;from-tag=1', 'proxy|x|||||||sip:1.2.3.4', 'route|', 'remove_route|zzz', 'ping', 'bogus'];
    for (let i = 0; i < 500; i++) {
      const body = m.mutate(seeds[i % seeds.length]).toString('utf8');
      send(`f${i}|${kinds[i % kinds.length]}\r\n${body}`);
    }
    ctl.destroy();
    sock.close();
    const r = await runSipp({ scenario: 'uac-call-bye.xml', transport: 'udp', remote: h.target('udp'), calls: 3, rate: 10, service: 'parley', timeoutS: 10 });
    assert.equal(r.code, 0, r.stdout.slice(-2000) + r.errors);
    assert.deepEqual(sippCounts(r.stdout), { ok: 3, failed: 0 });
  });
});

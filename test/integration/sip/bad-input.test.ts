// Bad input over real sockets: malformed SIP gets a 400 where it can be answered, junk is
// dropped, protocol limits get their RFC 3261 answers, a misbehaving control client is cut
// off, and through all of it the server keeps answering real calls.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { runSipp, sippCounts } from '../../helpers/sipp.ts';

describe('bad input', () => {
  let h: Harness;
  let c: RawSipClient;
  let sipPort: number;
  const held: Srf.SrfResponse[] = [];

  before(async () => {
    h = await startHarness({ maxMessageSize: 4096 });
    sipPort = h.server.sipPort('udp');
    c = await RawSipClient.open();
    h.srf.invite((req, res) => {
      if (req.get('Subject') === 'hold') {
        res.send(180);
        held.push(res);
        return;
      }
      h.srf.createUAS(req, res, { localSdp: SDP }).catch((err: unknown) => h.log.error({ err }, 'createUAS'));
    });
  });
  after(() => {
    for (const r of held) r.send(486);
    c.close();
    h.close();
  });

  /** Sends junk, then a probe OPTIONS (503: no app routed OPTIONS); the probe's answer must come first. */
  async function assertDroppedThenServes(junk: string | Buffer): Promise<void> {
    c.send(sipPort, junk);
    const probe = request('OPTIONS', c.port);
    c.send(sipPort, probe.text);
    const first = await c.next();
    assert.match(first, /^SIP\/2\.0 503 /);
    assert.ok(first.includes(probe.branch), 'the first answer is the probe\'s: the junk got none');
  }

  it('503 when no app routed the method', async () => {
    const r = request('OPTIONS', c.port);
    c.send(sipPort, r.text);
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 503 Service Unavailable/);
    assert.ok(res.includes(r.branch));
  });

  it('a request missing Call-ID gets 400', async () => {
    const r = request('INVITE', c.port, { 'Call-ID': null });
    c.send(sipPort, r.text);
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 400 /);
    assert.ok(res.includes(r.branch));
  });

  it('a Content-Length longer than the body gets 400', async () => {
    const r = request('INVITE', c.port, { 'Content-Length': '500' }, 'v=0\r\n');
    c.send(sipPort, r.text);
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 400 /);
  });

  it('an INVITE whose body is in a content encoding other than identity (gzip) gets 415 with Accept-Encoding: identity (RFC 3261 §8.2.3); identity is read', async () => {
    for (const [header, value] of [['Content-Encoding', 'gzip'], ['e', 'identity, deflate']] as const) {
      const r = request('INVITE', c.port, { 'Content-Type': 'application/sdp', [header]: value }, SDP);
      c.send(sipPort, r.text);
      const res = await c.next();
      assert.match(res, /^SIP\/2\.0 415 Unsupported Media Type\r\n/, value);
      assert.match(res, /\r\nAccept-Encoding: identity\r\n/);
      assert.ok(res.includes(r.branch));
    }
    const plain = request('INVITE', c.port, { 'Content-Type': 'application/sdp', 'Content-Encoding': 'identity', Subject: 'hold' }, SDP);
    c.send(sipPort, plain.text);
    assert.match(await c.nextMatching(/^SIP\/2\.0 180 /, 5000, plain.callId), /^SIP\/2\.0 180 /, 'identity is no encoding: the INVITE reaches the app');
  });

  it('a CSeq whose method differs from the request gets 400', async () => {
    const r = request('INVITE', c.port, { CSeq: '1 BYE' });
    c.send(sipPort, r.text);
    assert.match(await c.next(), /^SIP\/2\.0 400 /);
  });

  it('a Request-URI scheme other than sip, sips or tel gets 416', async () => {
    const r = request('INVITE', c.port);
    c.send(sipPort, r.text.replace('INVITE sip:parley@127.0.0.1 SIP/2.0', 'INVITE mailto:parley@example.com SIP/2.0'));
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 416 /);
    assert.ok(res.includes(r.branch));
  });

  it('a Request-URI whose host cannot be read gets 400, not a DNS lookup', async () => {
    for (const uri of ['sip:@@:::', 'sip:parley@127.0.0.1:5060abc', 'sip:parley@<host>']) {
      const r = request('OPTIONS', c.port);
      c.send(sipPort, r.text.replace('OPTIONS sip:parley@127.0.0.1 SIP/2.0', `OPTIONS ${uri} SIP/2.0`));
      const res = await c.next();
      assert.match(res, /^SIP\/2\.0 400 /, uri);
      assert.ok(res.includes(r.branch), uri);
    }
  });

  it("the app's INVITE to a tel: URI (no proxy to take it) fails 416 Unsupported URI Scheme, not 503", async () => {
    const err = await h.srf.createUAC('tel:+15551234', { localSdp: SDP }).then(() => null, (e: { status?: number }) => e);
    assert.equal(err?.status, 416);
  });

  it('a Via whose port is 0 gets 400 at the packet\'s source (no response could reach port 0)', async () => {
    const r = request('OPTIONS', c.port);
    c.send(sipPort, r.text.replace(`127.0.0.1:${c.port};branch=`, '127.0.0.1:0;branch='));
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 400 /);
    assert.ok(res.includes(r.branch));
  });

  it('a From or To that is no address (<<<>>>, no scheme) gets 400', async () => {
    for (const [name, value] of [['From', '<<<>>>;tag=1'], ['To', '<parley@127.0.0.1>'], ['From', 'nobody;tag=2']]) {
      const r = request('OPTIONS', c.port);
      c.send(sipPort, r.text.replace(new RegExp(`\r\n${name}: [^\r]*`), `\r\n${name}: ${value}`));
      const res = await c.next();
      assert.match(res, /^SIP\/2\.0 400 /, `${name}: ${value}`);
      assert.ok(res.includes(r.branch));
    }
  });

  it('a Require naming an unknown extension gets 420 Bad Extension with Unsupported', async () => {
    c.send(sipPort, request('INVITE', c.port, { Require: '100rel, frobnicate' }).text);
    const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
    assert.match(res, /^SIP\/2\.0 420 /);
    assert.match(res, /\r\nUnsupported: frobnicate\r\n/);
  });

  it('Max-Forwards: 0 gets 483 Too Many Hops', async () => {
    const r = request('INVITE', c.port, { 'Max-Forwards': '0' });
    c.send(sipPort, r.text);
    assert.match(await c.next(), /^SIP\/2\.0 483 /);
  });

  it('a merged request (same Call-ID, From tag and CSeq, new branch) gets 482 Loop Detected', async () => {
    const first = request('INVITE', c.port, { Subject: 'hold' }, SDP);
    c.send(sipPort, first.text);
    await c.nextMatching(/^SIP\/2\.0 180 /);
    const second = first.text.replace(first.branch, `${first.branch}-fork`);
    c.send(sipPort, second);
    const res = await c.nextMatching(/^SIP\/2\.0 4/);
    assert.match(res, /^SIP\/2\.0 482 /);
    assert.ok(res.includes(`${first.branch}-fork`));
  });

  it('a BYE outside any dialog gets 481, and so does an INVITE with an unknown To tag', async () => {
    c.send(sipPort, request('BYE', c.port, { To: '<sip:parley@127.0.0.1>;tag=nope' }).text);
    assert.match(await c.next(), /^SIP\/2\.0 481 /);
    c.send(sipPort, request('INVITE', c.port, { To: '<sip:parley@127.0.0.1>;tag=nope' }).text);
    assert.match(await c.nextMatching(/^SIP\/2\.0 [2-6]/), /^SIP\/2\.0 481 /);
  });

  it('a Session-Expires below 90 s gets 422 with Min-SE: 90 (RFC 4028)', async () => {
    c.send(sipPort, request('INVITE', c.port, { 'Session-Expires': '30;refresher=uac', Supported: 'timer' }).text);
    const res = await c.nextMatching(/^SIP\/2\.0 [2-6]/);
    assert.match(res, /^SIP\/2\.0 422 /);
    assert.match(res, /\r\nMin-SE: 90\r\n/);
  });

  it('a request over sip.maxMessageSize gets 513 Message Too Large and is not processed', async () => {
    const r = request('INVITE', c.port, { Subject: 'x'.repeat(5000) });
    c.send(sipPort, r.text);
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 513 /);
    assert.ok(res.includes(r.branch));
  });

  it('an oversized datagram that is not even SIP is dropped', async () => {
    await assertDroppedThenServes(Buffer.alloc(6000, 0x41));
  });

  it('junk and a start line that is no request line are dropped without an answer', async () => {
    await assertDroppedThenServes('HELLO WORLD\r\n\r\n');
    await assertDroppedThenServes(Buffer.from([0, 1, 2, 3, 255, 254, 13, 10, 13, 10]));
  });

  it('a request whose Via cannot be read is still answered 400, at the packet\'s source', async () => {
    c.send(sipPort, 'INVITE sip:x SIP/2.0\r\nVia: nonsense\r\n\r\n');
    assert.match(await c.next(), /^SIP\/2\.0 400 [^]*\r\nVia: nonsense\r\n/);
  });

  it('a request line whose method lost a byte (sipsak -R) is still answered 400, with its Via', async () => {
    // What `sipsak -R` sent last before it gave up on Parley: a control byte in the method,
    // another in the Request-URI, a Via that cannot be read, header names with bytes flipped.
    const garbled = Buffer.concat([
      Buffer.from('OPTI\x04NS s\x07p:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1(7.0.0.1.367034branch=z9;G4bK.2148bd8e;rport;alias\r\n', 'latin1'),
      Buffer.from('From: sip:sipsak@127.0.0.1:367k3;tao=34c3df1\r\nTo: sip:127.0.\x84.1\r\n\x88all-ID: 55328241@1\x977.0.\x9b.1\r\nCSeq: 1 OPTIONS\r\n', 'latin1'),
      Buffer.from('Content-Lengt\xd2: 0\r\nMax-Forwa\xdfds: 70\r\n\r\n', 'latin1'),
    ]);
    c.send(sipPort, garbled);
    const res = await c.next();
    assert.match(res, /^SIP\/2\.0 400 [^]*\r\nVia: SIP\/2\.0\/UDP 1\(7\.0\.0\.1\.367034branch=z9;G4bK\.2148bd8e;rport;alias\r\n/);
    assert.match(res, /\r\nReason: SIP ;cause=400 ;text="bad Method/);
    assert.match(res, /\r\nCSeq: 1 OPTIONS\r\n/);
  });

  it('a request whose Via lost its colon, or has none, is answered 400 at its source, without a Via', async () => {
    // sipsak -R again: the request line lost its version's slash, the Via header its colon.
    c.send(sipPort, Buffer.from('OPTIONS sip:12.0.0.1 SIP20\r\nVia SP/2.0/UD% 127.0.0.1:43570;branch=z9hG4bK.32bc54d0\r\nFrom: sip:sips]k@127.0.0.1:43570;tago7ee11fa8\r\nxo: sip:127.0.0.1\r\nCall-ID: sipsak-1@127.0.0.1\r\nCSeq: 1 \xffPTIONS\r\n\r\n', 'latin1'));
    const garbled = await c.next();
    assert.match(garbled, /^SIP\/2\.0 400 [^]*\r\nCall-ID: sipsak-1@127\.0\.0\.1\r\n/);
    assert.doesNotMatch(garbled, /\r\nVia:/);
    // Well formed but for its missing Via: the answer cannot follow a Via, so it goes to the source.
    c.send(sipPort, 'OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: no-via-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n');
    const noVia = await c.next();
    assert.match(noVia, /^SIP\/2\.0 400 [^]*\r\nCall-ID: no-via-1\r\n[^]*missing Via/);
  });

  it('a request line that lost its blanks or gained a CR is still answered 400', async () => {
    const via = (b: string) => `Via: SIP/2.0/UDP 127.0.0.1:${c.port};branch=${b}\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: ${b}\r\nCSeq: 1 OPTIONS\r\n\r\n`;
    c.send(sipPort, `OPTIONS\x06sip:a@127.0.0.1 SIP/2.0\r\n${via('z9hG4bK-blank')}`);
    assert.match(await c.next(), /^SIP\/2\.0 400 [^]*z9hG4bK-blank[^]*bad start line/);
    c.send(sipPort, `OPTIONS sip:127.\r.0.1 SIP/2.0\r\n${via('z9hG4bK-cr')}`);
    assert.match(await c.next(), /^SIP\/2\.0 400 [^]*z9hG4bK-cr/);
  });

  it('what is not SIP enough, a garbled ACK and a garbled response get no answer', async () => {
    // A request line with one SIP header: an answer would be several times its size (reflection).
    await assertDroppedThenServes('HELLO sip:x SIP/2.0\r\nCall-ID: x\r\n\r\n');
    await assertDroppedThenServes('HELLO WORLD\r\nCall-ID: x\r\n\r\n');
    const hdr = 'Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK-g\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@127.0.0.1>\r\nCall-ID: g1\r\n';
    await assertDroppedThenServes(`A\x01K sip:a@127.0.0.1 SIP/2.0\r\n${hdr}CSeq: 1 ACK\r\n\r\n`);
    await assertDroppedThenServes(`SIP/2.0 2\x0100 OK\r\n${hdr}CSeq: 1 OPTIONS\r\n\r\n`);
  });

  it('a TCP connection sending junk is closed; the listener keeps serving', async () => {
    const s = net.connect({ host: '127.0.0.1', port: h.server.sipPort('tcp') });
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise((r) => s.once('close', r));
    s.on('error', () => undefined);
    s.write('GARBAGE WITHOUT LENGTH\r\nX: y\r\n\r\n');
    await closed;
  });

  it('a misbehaving control client is cut off without harming the app', async () => {
    const cases = ['999999#junk', 'abc#', '10#1234567890', '5#x|sip', `20#${'z'.repeat(20)}`];
    for (const junk of cases) {
      const s = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
      s.on('error', () => undefined);
      s.resume(); // read whatever the server answers, so 'close' can follow its FIN
      await new Promise((r) => s.once('connect', r));
      const closed = new Promise((r) => s.once('close', r));
      s.write(junk);
      if (junk.startsWith('10#') || junk.startsWith('20#') || junk.startsWith('5#')) s.end();
      await closed;
    }
    const s = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
    let reply = '';
    s.on('data', (d) => (reply += d.toString()));
    await new Promise((r) => s.once('connect', r));
    const closed = new Promise((r) => s.once('close', r));
    const msg = 'id1|authenticate|wrong-secret|';
    s.write(`${Buffer.byteLength(msg)}#${msg}`);
    await closed;
    assert.match(reply, /\|response\|id1\|NO\|incorrect secret/);
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`after all that, a real call over ${transport} still works`, async () => {
      const r = await runSipp({ scenario: 'uac-call-bye.xml', transport, remote: h.target(transport), calls: 2, rate: 10, service: 'parley', timeoutS: 10 });
      assert.equal(r.code, 0, r.stdout + r.errors);
      assert.deepEqual(sippCounts(r.stdout), { ok: 2, failed: 0 });
    });
  }
});

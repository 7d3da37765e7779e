// SIP over TLS on the embedded server, on the wire: Node's TLS client and server stand in for
// phones and callees (Debian's SIPp is built without TLS). A CA made in the test signs the
// server's and the clients' certificates.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { freePort } from '../../helpers/free-port.ts';
import { captureLog, type LogCapture } from '../../helpers/log-capture.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { makeTestPki, type TestPki } from '../../helpers/tls-certs.ts';
import { header, responseTo, TlsSipPeer, TlsSipServer } from '../../helpers/tls-sip-peer.ts';
import { waitFor } from '../../helpers/wait.ts';
import { defaultConfig } from '../../../src/config/schema.ts';
import { EmbeddedSipServer } from '../../../src/sip/embedded-server.ts';
import { testLogger } from '../../helpers/sip-harness.ts';
import { attachRules } from '../../helpers/relay-call.ts';

type Handler = (req: Srf.SrfRequest, res: Srf.SrfResponse) => void;
/** srf.options exists at run time; drachtio-srf's typings leave it out. */
const onOptionsOf = (srf: Srf, h: Handler): void => (srf as unknown as { options(h: Handler): void }).options(h);

let seq = 0;

/** A request from a TLS peer to Parley's TLS listener at `port`. */
function tlsRequest(method: string, peer: TlsSipPeer, port: number, opts: { callId?: string; cseq?: number; body?: string; toTag?: string; ruri?: string } = {}): string {
  seq++;
  const body = opts.body ?? '';
  return [
    `${method} ${opts.ruri ?? `sips:parley@127.0.0.1:${port}`} SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${peer.localPort};rport;branch=z9hG4bK-tls-${process.pid}-${seq}`,
    'Max-Forwards: 70',
    `From: <sips:alice@127.0.0.1>;tag=alice${opts.callId ?? seq}`,
    `To: <sips:parley@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    `Call-ID: ${opts.callId ?? `tls-${process.pid}-${seq}`}`,
    `CSeq: ${opts.cseq ?? 1} ${method}`,
    `Contact: <sips:alice@127.0.0.1:${peer.localPort}>`,
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

function closedWithin(p: Promise<void>, ms: number, what: string): Promise<void> {
  let t: NodeJS.Timeout;
  return Promise.race([p.finally(() => clearTimeout(t)), new Promise<void>((_r, reject) => (t = setTimeout(() => reject(new Error(`${what} still open`)), ms)))]);
}

async function tlsHarness(pki: TestPki, capture: LogCapture, requireClientCert: boolean): Promise<{ h: Harness; port: number }> {
  const port = await freePort();
  const h = await startHarness(
    {
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port, cert: pki.server.certFile, key: pki.server.keyFile, ca: pki.caFile, requireClientCert },
      ],
    },
    capture.log,
  );
  return { h, port };
}

describe('SIP over TLS', () => {
  let pki: TestPki;
  let h: Harness;
  let port: number;
  let capture: LogCapture;
  let onOptions: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void = (_req, res) => res.send(200);
  let onInvite: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void = (_req, res) => res.send(480);
  const peers: TlsSipPeer[] = [];

  before(async () => {
    pki = await makeTestPki();
    capture = captureLog();
    ({ h, port } = await tlsHarness(pki, capture, false));
    onOptionsOf(h.srf, (req, res) => onOptions(req, res));
    h.srf.invite((req, res) => onInvite(req, res));
  });
  after(async () => {
    for (const p of peers) p.close();
    h.close();
    await pki.remove();
  });

  const connect = async (): Promise<TlsSipPeer> => {
    const p = await TlsSipPeer.connect(port, { ca: pki.ca });
    peers.push(p);
    return p;
  };

  it('answers an OPTIONS over TLS on the same connection; the app sees a tls request', async () => {
    let seen: Srf.SrfRequest | null = null;
    onOptions = (req, res) => {
      seen = req;
      res.send(200);
    };
    const peer = await connect();
    assert.equal(peer.socket.getProtocol()?.startsWith('TLSv1.'), true);
    const req = tlsRequest('OPTIONS', peer, port);
    peer.send(req);
    const res = await peer.nextMatching(/^SIP\/2.0 200/);
    assert.equal(header(res, 'Via'), header(req, 'Via')?.replace(';rport', `;rport=${peer.localPort}`));
    const app = await waitFor('the app saw the OPTIONS', () => seen ?? undefined, 3000);
    assert.equal(app.protocol, 'tls');
    assert.equal(app.source_port, peer.localPort);
  });

  it('a whole call over TLS: INVITE, 200 with a sips Contact, ACK, BYE from the caller', async () => {
    const destroyed = new Promise<void>((resolve) => {
      onInvite = (req, res) => {
        h.srf.createUAS(req, res, { localSdp: SDP }).then((d) => d.on('destroy', () => resolve()), (err: unknown) => h.log.error({ err }, 'createUAS failed'));
      };
    });
    const peer = await connect();
    const callId = `tls-call-${process.pid}`;
    peer.send(tlsRequest('INVITE', peer, port, { callId, body: SDP }));
    const ok = await peer.nextMatching(/^SIP\/2.0 200/, 5000);
    // §8.1.1.8 / §12.1.1: a SIPS Request-URI gets a SIPS Contact back.
    assert.equal(header(ok, 'Contact'), `<sips:127.0.0.1:${port}>`);
    assert.match(header(ok, 'Via') ?? '', /^SIP\/2.0\/TLS /);
    assert.match(ok, /m=audio/);
    const toTag = /tag=([^;>\s]+)/.exec(header(ok, 'To') ?? '')?.[1];
    assert.ok(toTag);
    peer.send(tlsRequest('ACK', peer, port, { callId, toTag, ruri: `sips:127.0.0.1:${port}` }));
    peer.send(tlsRequest('BYE', peer, port, { callId, toTag, cseq: 2, ruri: `sips:127.0.0.1:${port}` }));
    const byeOk = await peer.nextMatching(/^SIP\/2.0 200/, 5000);
    assert.match(header(byeOk, 'CSeq') ?? '', /BYE/);
    await closedWithin(destroyed, 3000, 'the app dialog');
    assert.equal(h.server.stats.dialogs, 0);
  });

  for (const form of ['sips', 'transport=tls'] as const) {
    it(`places a B leg over TLS to a ${form} URI and reuses the connection for ACK and BYE`, async () => {
      const callee = await TlsSipServer.listen({ cert: pki.server.cert, key: pki.server.key });
      try {
        const uri = form === 'sips' ? `sips:bob@127.0.0.1:${callee.port}` : `sip:bob@127.0.0.1:${callee.port};transport=tls`;
        const uac = h.srf.createUAC(uri, { localSdp: SDP });
        const conn = await callee.accepted();
        const invite = await conn.nextMatching(/^INVITE /);
        assert.match(header(invite, 'Via') ?? '', /^SIP\/2.0\/TLS 127\.0\.0\.1:\d+;/);
        assert.equal(header(invite, 'Contact'), form === 'sips' ? `<sips:127.0.0.1:${port}>` : `<sip:127.0.0.1:${port};transport=tls>`);
        const contact = form === 'sips' ? `<sips:bob@127.0.0.1:${callee.port}>` : `<sip:bob@127.0.0.1:${callee.port};transport=tls>`;
        conn.send(responseTo(invite, '200 OK', [`Contact: ${contact}`, 'Content-Type: application/sdp'], SDP, 'bob1'));
        const dialog = await uac;
        const ack = await conn.nextMatching(/^ACK /);
        assert.match(ack, /CSeq: 1 ACK/);
        // A re-INVITE in the dialog keeps the Contact's form (a SIPS dialog stays SIPS, §8.1.1.8).
        const modified = dialog.modify(SDP);
        const reinvite = await conn.nextMatching(/^INVITE /);
        assert.equal(header(reinvite, 'Contact'), form === 'sips' ? `<sips:127.0.0.1:${port}>` : `<sip:127.0.0.1:${port};transport=tls>`);
        conn.send(responseTo(reinvite, '200 OK', [`Contact: ${contact}`, 'Content-Type: application/sdp'], SDP));
        await modified;
        await conn.nextMatching(/^ACK /);
        const bye = dialog.destroy();
        const byeReq = await conn.nextMatching(/^BYE /);
        conn.send(responseTo(byeReq, '200 OK'));
        await bye;
        assert.equal(callee.peers.length, 1, 'one connection for INVITE, ACK and BYE');
      } finally {
        callee.close();
      }
    });
  }

  it('a SIPS INVITE whose Contact is a sip: URI (even with transport=tls) is refused 400 before the app sees it (RFC 3261 §8.1.1.8, RFC 5630 §5.3)', async () => {
    const seen: string[] = [];
    onInvite = (req, res) => {
      seen.push(req.get('Call-ID') ?? '');
      res.send(480);
    };
    try {
      const peer = await connect();
      for (const contact of [`<sip:alice@127.0.0.1:${peer.localPort}>`, `<sip:alice@127.0.0.1:${peer.localPort};transport=tls>`]) {
        const invite = tlsRequest('INVITE', peer, port, { body: SDP }).replace(/^Contact: .*$/m, `Contact: ${contact}`);
        peer.send(invite);
        const res = await peer.nextMatching(/^SIP\/2.0 [2-6]\d\d /, 5000);
        assert.match(res, /^SIP\/2\.0 400 Bad Request\r\n/, `${contact}:\n${res}`);
        assert.match(header(res, 'Reason') ?? '', /^SIP ;cause=400 ;text="[^"]*sips: Request-URI needs a sips: Contact/);
        assert.equal(header(res, 'Call-ID'), header(invite, 'Call-ID'));
      }
      // The same with a sips: Contact reaches the app (its 480).
      peer.send(tlsRequest('INVITE', peer, port, { body: SDP }));
      assert.match(await peer.nextMatching(/^SIP\/2.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 480 /);
      assert.equal(seen.length, 1, 'only the consistent INVITE reached the app');
    } finally {
      onInvite = (_req, res) => res.send(480);
    }
  });

  it('a sips: request through a sip: outbound proxy goes to that proxy over TLS (RFC 3261 §26.2.2, RFC 5630 §5.1.1)', async () => {
    const proxy = await TlsSipServer.listen({ cert: pki.server.cert, key: pki.server.key });
    try {
      const uac = h.srf.createUAC('sips:bob@127.0.0.1:5999', { localSdp: SDP, proxy: `sip:127.0.0.1:${proxy.port}` });
      uac.catch(() => undefined);
      const conn = await proxy.accepted();
      const invite = await conn.nextMatching(/^INVITE /);
      assert.match(invite, /^INVITE sips:bob@127\.0\.0\.1:5999 SIP\/2\.0\r\n/, 'the Request-URI unchanged');
      assert.match(header(invite, 'Via') ?? '', /^SIP\/2.0\/TLS 127\.0\.0\.1:\d+;/);
      conn.send(responseTo(invite, '486 Busy Here'));
      await assert.rejects(uac, (err: { status?: number }) => err.status === 486);
    } finally {
      proxy.close();
    }
  });

  it('proxies a SIPS INVITE from TLS to TLS with its sips: Request-URI (the target written sip:…;transport=tls), Record-Routing with a sips: URI', async () => {
    const callee = await TlsSipServer.listen({ cert: pki.server.cert, key: pki.server.key });
    try {
      onInvite = (req) => {
        const proxy = (req as unknown as { proxy(o: Record<string, unknown>): Promise<unknown> }).proxy.bind(req);
        // drachtio-srf's proxy turns a `sips:` destination into `sip:sips:…`; transport=tls says it.
        proxy({ destination: `sip:bob@127.0.0.1:${callee.port};transport=tls`, remainInDialog: true }).catch((err: unknown) => h.log.error({ err }, 'proxy failed'));
      };
      const peer = await connect();
      const callId = `tls-proxy-${process.pid}`;
      peer.send(tlsRequest('INVITE', peer, port, { callId, body: SDP }));
      const conn = await callee.accepted();
      const invite = await conn.nextMatching(/^INVITE /);
      // RFC 5630 §5.3: a SIPS request goes on with a SIPS Request-URI, without transport=tls (it went as that sip: URI).
      assert.match(invite, new RegExp(`^INVITE sips:bob@127\\.0\\.0\\.1:${callee.port} SIP/2\\.0`));
      // §16.6 step 4 and RFC 5630: the request was SIPS, so our Record-Route is a SIPS URI.
      assert.equal(header(invite, 'Record-Route'), `<sips:127.0.0.1:${port};lr>`);
      assert.match(header(invite, 'Via') ?? '', /^SIP\/2.0\/TLS 127\.0\.0\.1:/);
      conn.send(responseTo(invite, '200 OK', [`Contact: <sips:bob@127.0.0.1:${callee.port}>`, `Record-Route: ${header(invite, 'Record-Route')}`, 'Content-Type: application/sdp'], SDP, 'bob2'));
      const ok = await peer.nextMatching(/^SIP\/2.0 200/, 5000);
      assert.equal(header(ok, 'Record-Route'), `<sips:127.0.0.1:${port};lr>`);
      // In the dialog, the caller's requests follow the sips: route through Parley to the callee, over TLS.
      const inDialog = (method: string, cseq: number): string =>
        tlsRequest(method, peer, port, { callId, cseq, toTag: 'bob2', ruri: `sips:bob@127.0.0.1:${callee.port}` }).replace('Max-Forwards: 70', `Route: <sips:127.0.0.1:${port};lr>\r\nMax-Forwards: 70`);
      peer.send(inDialog('ACK', 1));
      await conn.nextMatching(/^ACK sips:bob@/);
      peer.send(inDialog('BYE', 2));
      const bye = await conn.nextMatching(/^BYE sips:bob@/);
      conn.send(responseTo(bye, '200 OK'));
      const byeOk = await peer.nextMatching(/^SIP\/2.0 200/, 5000);
      assert.match(header(byeOk, 'CSeq') ?? '', /2 BYE/);
    } finally {
      onInvite = (_req, res) => res.send(480);
      callee.close();
    }
  });

  it('bad connections close with a log line, and a good one goes on meanwhile', async () => {
    const good = await connect();
    // 1. Not TLS at all: plain SIP text on the TLS port.
    const plain = net.connect({ host: '127.0.0.1', port });
    plain.on('error', () => undefined);
    const plainClosed = new Promise<void>((r) => plain.once('close', () => r()));
    await new Promise<void>((r) => plain.once('connect', () => r()));
    const plainPort = plain.localPort;
    plain.write('OPTIONS sip:parley@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n');
    // 2. A handshake that cannot succeed: the client offers TLS 1.1 at most (minVersion is 1.2).
    const old = TlsSipPeer.connect(port, { ca: pki.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' });
    await assert.rejects(old);
    // 3. A good handshake, then junk: no SIP framing at all.
    const junk = await connect();
    const junkPort = junk.localPort;
    junk.send('\u0001\u0002 this is not SIP\r\n\r\n');
    await closedWithin(plainClosed, 3000, 'the plain-text connection');
    await closedWithin(junk.closed, 3000, 'the junk connection');
    await waitFor('log lines for the bad connections', () => {
      const hs = capture.find(/tls handshake failed/);
      const fr = capture.find(/tls framing error/);
      return hs.length >= 2 && fr.length >= 1 ? true : undefined;
    }, 3000);
    assert.ok(capture.find(/tls handshake failed/).some((l) => l.from === `127.0.0.1:${plainPort}`));
    assert.ok(capture.find(/tls framing error/).some((l) => l.from === `127.0.0.1:${junkPort}`));
    // The good connection was not disturbed, and a new one works too.
    good.send(tlsRequest('OPTIONS', good, port));
    await good.nextMatching(/^SIP\/2.0 200/);
    const fresh = await connect();
    fresh.send(tlsRequest('OPTIONS', fresh, port));
    await fresh.nextMatching(/^SIP\/2.0 200/);
  });
});

// The rule chain's proxy over TLS (RFC 5630 §5.3). drachtio-srf's proxy puts `sip:` before a
// `sips:` destination, so a rule's `sips:` target went out as `sip:sips:…` and the request failed;
// a SIPS request proxied to a TLS target lost its scheme; one proxied to a plain sip: target went
// there off TLS. Now the router hands drachtio-srf the TLS address of a sips: target and the SIP
// server forwards a SIPS request with a sips: Request-URI, or, to a sip: target, not at all (480, 380).
describe('the rule chain proxying over TLS (RFC 5630 §5.3)', () => {
  let pki: TestPki;
  let h: Harness;
  let port: number;
  let callee: TlsSipServer;
  let hole: dgram.Socket;
  const arrivedOverUdp: string[] = [];
  const peers: TlsSipPeer[] = [];

  before(async () => {
    pki = await makeTestPki();
    ({ h, port } = await tlsHarness(pki, captureLog(), false));
    callee = await TlsSipServer.listen({ cert: pki.server.cert, key: pki.server.key });
    hole = dgram.createSocket('udp4');
    hole.on('message', (m) => arrivedOverUdp.push(m.toString()));
    await new Promise<void>((r) => hole.bind(0, '127.0.0.1', () => r()));
    attachRules(h.srf, [
      { name: 'to-sips', match: { requestUri: 'sips:bob@*' }, actions: [{ proxy: { targets: [`sips:bob@127.0.0.1:${callee.port}`] } }] },
      { name: 'to-plain', match: { requestUri: 'sips:carol@*' }, actions: [{ proxy: { targets: [`sip:carol@127.0.0.1:${hole.address().port}`] } }] },
      { name: 'sip-to-sips', match: { requestUri: 'sip:dave@*' }, actions: [{ proxy: { targets: [`sips:dave@127.0.0.1:${callee.port}`] } }] },
    ]);
  });
  after(async () => {
    for (const p of peers) p.close();
    callee.close();
    hole.close();
    h.close();
    await pki.remove();
  });

  const connect = async (): Promise<TlsSipPeer> => {
    const p = await TlsSipPeer.connect(port, { ca: pki.ca });
    peers.push(p);
    return p;
  };

  it('a SIPS INVITE to a rule\'s sips: target reaches it over TLS with that sips: Request-URI, and its answer comes back', async () => {
    const peer = await connect();
    peer.send(tlsRequest('INVITE', peer, port, { body: SDP, ruri: `sips:bob@127.0.0.1:${port}` }));
    const conn = await callee.accepted();
    const invite = await conn.nextMatching(/^INVITE /);
    assert.match(invite, new RegExp(`^INVITE sips:bob@127\\.0\\.0\\.1:${callee.port} SIP/2\\.0\\r\\n`));
    assert.match(header(invite, 'Via') ?? '', /^SIP\/2.0\/TLS 127\.0\.0\.1:/);
    conn.send(responseTo(invite, '486 Busy Here', [], '', 'bob1'));
    assert.match(await peer.nextMatching(/^SIP\/2.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 486 /);
  });

  it('a SIP INVITE to a rule\'s sips: target goes over TLS with its sip: Request-URI (a proxy does not turn SIP into SIPS)', async () => {
    const peer = await connect();
    peer.send(tlsRequest('INVITE', peer, port, { body: SDP, ruri: `sip:dave@127.0.0.1:${port}` }));
    // Parley's connection to the target from the test before is reused (§18.1.1), else a new one.
    const conn = callee.peers.at(-1) ?? (await callee.accepted());
    const invite = await conn.nextMatching(/^INVITE /);
    assert.match(invite, new RegExp(`^INVITE sip:dave@127\\.0\\.0\\.1:${callee.port};transport=tls SIP/2\\.0\\r\\n`));
    conn.send(responseTo(invite, '486 Busy Here', [], '', 'dave1'));
    assert.match(await peer.nextMatching(/^SIP\/2.0 [2-6]\d\d /, 5000), /^SIP\/2\.0 486 /);
  });

  it('a SIPS INVITE to a rule\'s plain sip: target is not forwarded: 480 with warn-code 380 (SIPS Not Allowed)', async () => {
    const peer = await connect();
    peer.send(tlsRequest('INVITE', peer, port, { body: SDP, ruri: `sips:carol@127.0.0.1:${port}` }));
    const res = await peer.nextMatching(/^SIP\/2.0 [2-6]\d\d /, 5000);
    assert.match(res, /^SIP\/2\.0 480 /, res);
    assert.match(header(res, 'Warning') ?? '', /^380 \S+ "SIPS Not Allowed"$/);
    assert.deepEqual(arrivedOverUdp, [], 'nothing went to the sip: target');
  });
});

describe('SIP over TLS with client certificates required (mutual TLS)', () => {
  let pki: TestPki;
  let h: Harness;
  let port: number;
  let capture: LogCapture;

  before(async () => {
    pki = await makeTestPki();
    capture = captureLog();
    ({ h, port } = await tlsHarness(pki, capture, true));
    onOptionsOf(h.srf, (_req, res) => res.send(200));
  });
  after(async () => {
    h.close();
    await pki.remove();
  });

  it('an upstream with a certificate from the trusted CA is served', async () => {
    const peer = await TlsSipPeer.connect(port, { ca: pki.ca, cert: pki.client.cert, key: pki.client.key });
    try {
      peer.send(tlsRequest('OPTIONS', peer, port));
      await peer.nextMatching(/^SIP\/2.0 200/);
    } finally {
      peer.close();
    }
  });

  it('an untrusted client certificate, or none, closes that connection with a log line; a good one goes on', async () => {
    const good = await TlsSipPeer.connect(port, { ca: pki.ca, cert: pki.client.cert, key: pki.client.key });
    try {
      for (const creds of [{ cert: pki.rogueClient.cert, key: pki.rogueClient.key }, {}]) {
        // TLS 1.3 finishes the client's side of the handshake before the server has judged its
        // certificate: the refusal shows as the connection closing without an answer.
        let peer: TlsSipPeer | null = null;
        try {
          peer = await TlsSipPeer.connect(port, { ca: pki.ca, ...creds });
        } catch {
          continue; // refused during the handshake: what we want
        }
        peer.send(tlsRequest('OPTIONS', peer, port));
        await closedWithin(peer.closed, 3000, 'a connection without a trusted certificate');
        await assert.rejects(peer.next(200));
      }
      await waitFor('two handshake failures logged', () => (capture.find(/tls handshake failed/).length >= 2 ? true : undefined), 3000);
      good.send(tlsRequest('OPTIONS', good, port));
      await good.nextMatching(/^SIP\/2.0 200/);
    } finally {
      good.close();
    }
  });
});

describe('TLS listener start-up', () => {
  it('a missing or unusable certificate stops the server with the key that named it', async () => {
    const pki = await makeTestPki();
    try {
      const start = (tlsListen: Record<string, unknown>) =>
        EmbeddedSipServer.start({
          sip: {
            ...defaultConfig.sip,
            control: { host: '127.0.0.1', port: 0, secret: 's' },
            listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }, { transport: 'tls', host: '127.0.0.1', port: 0, ...tlsListen }],
          },
          log: testLogger(),
        });
      await assert.rejects(start({ cert: `${pki.dir}/nope.crt`, key: pki.server.keyFile }), /sip\.listen\.1\.cert: cannot read .*nope\.crt/);
      await assert.rejects(start({ cert: pki.server.certFile, key: pki.server.certFile }), /sip\.listen\.1\.cert\/sip\.listen\.1\.key: not a usable/);
      await assert.rejects(start({ cert: pki.server.certFile, key: pki.server.keyFile, ca: `${pki.dir}/server.ext` }), /sip\.listen\.1\.ca: .*server\.ext is not a PEM file/);
      // The UDP listener bound before the failure was released: a good start works.
      const ok = await start({ cert: pki.server.certFile, key: pki.server.keyFile });
      assert.equal(ok.listeningPoints.some((l) => l.transport === 'tls'), true);
      ok.close();
    } finally {
      await pki.remove();
    }
  });
});

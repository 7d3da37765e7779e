// Bare LF line ends on the wire (old phones, hand-written tools). RFC 3261 §7 wants CRLF, but
// PJSIP, sofia-sip and Kamailio take LF, and Parley answered such messages 400. Now a whole
// call in LF alone (and in CRLF and LF mixed) works over UDP, TCP and TLS; a stream's bodies
// are framed by Content-Length after an LF blank line; everything Parley sends, and what it
// passes on to its app or to a proxied target, is CRLF with the body byte for byte. A message
// that is malformed for another reason still gets its 400 at its source.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { StreamFramer } from '../../../src/sip/transport/stream-framer.ts';
import { freePort } from '../../helpers/free-port.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';
import { makeTestPki, type TestPki } from '../../helpers/tls-certs.ts';

type Transport = 'udp' | 'tcp' | 'tls';
/** An SDP offer whose own lines end in LF alone: it must reach the app byte for byte. */
const LF_SDP = 'v=0\no=- 5 5 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio 41000 RTP/AVP 0 8\na=rtpmap:0 PCMU/8000\n';

/** A line end, blank line included, that ends in LF without a CR before it. */
const bareLf = (text: string): boolean => /(^|[^\r])\n/.test(text);
const head = (msg: string): string => msg.slice(0, msg.indexOf('\r\n\r\n') + 4);

/** One client socket of any transport that sends bytes as given and reads whole messages. */
class Peer {
  private readonly framer = new StreamFramer(65536);
  private readonly got: string[] = [];
  private wake: (() => void) | null = null;

  private constructor(
    readonly transport: Transport,
    private readonly write: (b: Buffer) => void,
    readonly localPort: number,
    private readonly closeFn: () => void,
  ) {}

  static async open(transport: Transport, port: number, ca?: string | Buffer): Promise<Peer> {
    if (transport === 'udp') {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1');
      await once(s, 'listening');
      const p = new Peer('udp', (b) => s.send(b, port, '127.0.0.1'), s.address().port, () => s.close());
      s.on('message', (m) => p.push(m.toString('utf8')));
      return p;
    }
    const sock = transport === 'tcp' ? net.connect(port, '127.0.0.1') : tls.connect({ host: '127.0.0.1', port, ca });
    await once(sock, transport === 'tcp' ? 'connect' : 'secureConnect');
    const p = new Peer(transport, (b) => sock.write(b), sock.localPort ?? 0, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('data', (chunk: Buffer) => {
      for (const f of p.framer.push(chunk)) if (f.kind === 'message') p.push(f.data.toString('utf8'));
    });
    return p;
  }

  private push(m: string): void {
    this.got.push(m);
    this.wake?.();
  }

  send(text: string): void {
    this.write(Buffer.from(text, 'utf8'));
  }

  /** The next message whose start line matches `re` (others, such as 100 Trying, are skipped). */
  async next(re: RegExp, ms = 5000): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const i = this.got.findIndex((m) => re.test(m.slice(0, m.search(/\r?\n/))));
      if (i >= 0) return this.got.splice(i, 1)[0]!;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no ${re} over ${this.transport}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
  }

  close(): void {
    this.closeFn();
  }
}

let seq = 0;

/** A request in bare LF (`eol` per line: a function gives mixed line ends); Content-Length counts `body`. */
function request(peer: Peer, port: number, method: string, o: { callId: string; cseq?: number; toTag?: string; body?: string; eol?: (i: number) => string; extra?: string[] }): string {
  const via = peer.transport.toUpperCase();
  const body = o.body ?? '';
  const lines = [
    `${method} sip:bob@127.0.0.1:${port}${peer.transport === 'udp' ? '' : `;transport=${peer.transport}`} SIP/2.0`,
    `Via: SIP/2.0/${via} 127.0.0.1:${peer.localPort};rport;branch=z9hG4bK-lf-${process.pid}-${++seq}`,
    'Max-Forwards: 70',
    `From: <sip:alice@127.0.0.1>;tag=lf-${o.callId}`,
    `To: <sip:bob@127.0.0.1>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    `Contact: <sip:alice@127.0.0.1:${peer.localPort};transport=${peer.transport}>`,
    ...(o.extra ?? []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
  ];
  const eol = o.eol ?? (() => '\n');
  return lines.map((l, i) => l + eol(i)).join('') + body;
}

describe('bare LF line ends', () => {
  let pki: TestPki;
  let h: Harness;
  let tlsPort: number;
  let onInvite: (req: Srf.SrfRequest, res: Srf.SrfResponse) => void = (_req, res) => res.send(480);
  const peers: Peer[] = [];

  before(async () => {
    pki = await makeTestPki();
    tlsPort = await freePort();
    h = await startHarness({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: tlsPort, cert: pki.server.certFile, key: pki.server.keyFile },
      ],
    });
    h.srf.invite((req, res) => onInvite(req, res));
  });
  after(async () => {
    for (const p of peers) p.close();
    h.close();
    await pki.remove();
  });

  const portOf = (t: Transport): number => (t === 'tls' ? tlsPort : h.server.sipPort(t));
  const open = async (t: Transport): Promise<Peer> => {
    const p = await Peer.open(t, portOf(t), pki.ca);
    peers.push(p);
    return p;
  };

  /** A call: INVITE, 200 (checked for CRLF), ACK, BYE, 200, each line end made by `eol`. */
  async function call(t: Transport, name: string, eol?: (i: number) => string): Promise<void> {
    let seen: Srf.SrfRequest | null = null;
    let acked = false;
    const destroyed = new Promise<void>((resolve) => {
      onInvite = (req, res) => {
        seen = req;
        h.srf.createUAS(req, res, { localSdp: SDP }).then(
          (d) => {
            d.on('ack', () => (acked = true));
            d.on('destroy', () => resolve());
          },
          (err: unknown) => h.log.error({ err }, 'createUAS failed'),
        );
      };
    });
    const peer = await open(t);
    const port = portOf(t);
    const callId = `lf-${name}-${t}-${process.pid}`;
    peer.send(request(peer, port, 'INVITE', { callId, body: LF_SDP, eol }));
    const ok = await peer.next(/^SIP\/2\.0 [2-6]\d\d /);
    assert.match(ok, /^SIP\/2\.0 200 /, ok);
    assert.equal(bareLf(head(ok)), false, `Parley's 200 has a bare LF:\n${JSON.stringify(ok)}`);
    assert.ok(seen, 'the app saw the INVITE');
    assert.equal((seen as Srf.SrfRequest).body, LF_SDP, 'the app got the offer byte for byte');
    assert.equal((seen as Srf.SrfRequest).get('Call-ID'), callId);
    const toTag = /\r\nTo:[^\r]*;tag=([^;\r>\s]+)/i.exec(ok)![1]!;
    peer.send(request(peer, port, 'ACK', { callId, toTag, eol }));
    const end = Date.now() + 5000;
    while (!acked && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    assert.equal(acked, true, 'the app heard the ACK');
    peer.send(request(peer, port, 'BYE', { callId, toTag, cseq: 2, eol }));
    const byeOk = await peer.next(/^SIP\/2\.0 200 /);
    assert.match(byeOk, /\r\nCSeq: 2 BYE\r\n/);
    await destroyed;
    assert.equal(h.server.stats.dialogs, 0);
  }

  for (const t of ['udp', 'tcp', 'tls'] as const) {
    it(`over ${t}: a whole call in bare LF (INVITE with an LF body, ACK, BYE) is answered in CRLF`, async () => {
      await call(t, 'lf');
    });
  }

  for (const t of ['udp', 'tcp'] as const) {
    it(`over ${t}: CRLF and LF mixed in one message, the blank line LF CRLF`, async () => {
      await call(t, 'mixed', (i) => (i % 2 ? '\n' : '\r\n'));
    });
  }

  it('over tcp: two LF messages with bodies in one write are framed by Content-Length', async () => {
    const offers: string[] = [];
    onInvite = (req, res) => {
      offers.push(req.body);
      res.send(486);
    };
    const peer = await open('tcp');
    const port = portOf('tcp');
    const a = request(peer, port, 'INVITE', { callId: `lf-two-a-${process.pid}`, body: LF_SDP });
    const b = request(peer, port, 'INVITE', { callId: `lf-two-b-${process.pid}`, body: SDP });
    peer.send(a + b);
    const ra = await peer.next(/^SIP\/2\.0 486 /);
    const rb = await peer.next(/^SIP\/2\.0 486 /);
    assert.deepEqual([ra, rb].map((r) => /\r\nCall-ID: (\S+)/.exec(r)![1]).sort(), [`lf-two-a-${process.pid}`, `lf-two-b-${process.pid}`]);
    assert.deepEqual(offers.sort(), [LF_SDP, SDP].sort(), 'each body read whole and only it');
  });

  for (const t of ['udp', 'tcp'] as const) {
    it(`over ${t}: a malformed LF message still gets its 400 at its source`, async () => {
      const peer = await open(t);
      const text = request(peer, portOf(t), 'INVITE', { callId: `lf-bad-${t}-${process.pid}`, body: LF_SDP, extra: ['this line has no colon'] });
      peer.send(text);
      const bad = await peer.next(/^SIP\/2\.0 [2-6]\d\d /);
      assert.match(bad, /^SIP\/2\.0 400 /);
      assert.match(bad, new RegExp(`\\r\\nCall-ID: lf-bad-${t}-`));
      assert.equal(bareLf(head(bad)), false);
    });
  }
});

describe('bare LF through the proxy', () => {
  let h: Harness;
  let target: dgram.Socket;
  const forwarded: Buffer[] = [];

  before(async () => {
    h = await startHarness();
    target = dgram.createSocket('udp4');
    target.bind(0, '127.0.0.1');
    await once(target, 'listening');
    target.on('message', (m) => forwarded.push(m));
    h.srf.invite((req) => {
      const proxy = (req as unknown as { proxy(o: Record<string, unknown>): Promise<unknown> }).proxy({ destination: `sip:bob@127.0.0.1:${target.address().port}` });
      proxy.catch(() => undefined);
    });
  });
  after(() => {
    target.close();
    h.close();
  });

  it('a proxied INVITE received in bare LF goes on in CRLF with its body byte for byte', async () => {
    const caller = await Peer.open('udp', h.server.sipPort('udp'));
    try {
      caller.send(request(caller, h.server.sipPort('udp'), 'INVITE', { callId: `lf-proxy-${process.pid}`, body: LF_SDP }));
      const end = Date.now() + 5000;
      while (!forwarded.some((m) => m.toString().startsWith('INVITE ')) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      const fwd = forwarded.find((m) => m.toString().startsWith('INVITE '));
      assert.ok(fwd, 'the INVITE was forwarded');
      const text = fwd.toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      assert.ok(split > 0, `no CRLF blank line in the forwarded INVITE:\n${JSON.stringify(text)}`);
      assert.equal(bareLf(text.slice(0, split + 4)), false, `the forwarded INVITE has a bare LF:\n${JSON.stringify(text)}`);
      assert.equal(text.slice(split + 4), LF_SDP, 'the body is passed on byte for byte');
      assert.match(text, new RegExp(`\\r\\nContent-Length: ${Buffer.byteLength(LF_SDP)}\\r\\n`));
    } finally {
      caller.close();
    }
  });
});

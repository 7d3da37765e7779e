// RFC 3263 in the embedded server, over real UDP with a real DNS server on loopback: a B leg
// to a domain that publishes SRV (or NAPTR then SRV) records reaches the target they name,
// in priority order; a target that cannot be reached or answers 503 is followed by the next
// (§4.3); a domain without them is reached by its A/AAAA; a DNS server that does not answer
// costs one timeout, kept for the next request. Each peer answers with its own status, so
// the status the app gets says which one the INVITE reached.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { TestDnsServer } from '../../helpers/dns-server.ts';
import { makeTestPki, type TestPki } from '../../helpers/tls-certs.ts';
import { responseTo, TlsSipServer } from '../../helpers/tls-sip-peer.ts';
import { freePort } from '../../helpers/free-port.ts';
import { captureLog, type LogCapture } from '../../helpers/log-capture.ts';
import { header, RawSipClient, request } from '../../helpers/raw-sip-client.ts';
import { SDP, startHarness, type Harness } from '../../helpers/sip-harness.ts';

/** A UDP peer that answers each INVITE with `status`, and keeps every request it got. */
class StatusPeer {
  readonly requests: string[] = [];
  private constructor(private readonly socket: dgram.Socket, status: number) {
    socket.on('message', (m, rinfo) => {
      const text = m.toString();
      this.requests.push(text);
      if (!text.startsWith('INVITE ')) return;
      const keep = text.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l));
      const res = [`SIP/2.0 ${status} Peer ${status}`, ...keep.map((l) => (/^to\s*:/i.test(l) ? `${l};tag=peer${status}` : l)), 'Content-Length: 0', '', ''].join('\r\n');
      socket.send(res, rinfo.port, rinfo.address);
    });
  }

  static async start(status: number): Promise<StatusPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new StatusPeer(s, status);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** The Request-URIs of the INVITEs it got. */
  get invites(): string[] {
    return this.requests.filter((r) => r.startsWith('INVITE ')).map((r) => r.split(' ')[1]!);
  }

  close(): void {
    this.socket.close();
  }
}

/** A UDP peer that never answers (a host down behind a firewall that drops packets: no ICMP either); keeps when each request came. */
class SilentPeer {
  readonly got: { at: number; text: string }[] = [];
  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (m) => this.got.push({ at: performance.now(), text: m.toString() }));
  }

  static async start(): Promise<SilentPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    return new SilentPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** When the INVITEs to `uri` came (the first one and its retransmissions). */
  invitesTo(uri: string): number[] {
    return this.got.filter((g) => g.text.startsWith(`INVITE ${uri} `)).map((g) => g.at);
  }

  close(): void {
    this.socket.close();
  }
}

/** A TCP peer that answers each INVITE with `status` on the connection it came on. */
class TcpStatusPeer {
  readonly invites: string[] = [];
  private constructor(private readonly server: net.Server) {}

  static async start(status: number): Promise<TcpStatusPeer> {
    const server = net.createServer();
    const peer = new TcpStatusPeer(server);
    server.on('connection', (sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        for (;;) {
          const end = buf.indexOf('\r\n\r\n');
          if (end < 0) return;
          const head = buf.slice(0, end);
          const len = Number(/^(?:Content-Length|l)\s*:\s*(\d+)/im.exec(head)?.[1] ?? 0);
          if (buf.length < end + 4 + len) return;
          buf = buf.slice(end + 4 + len);
          if (!head.startsWith('INVITE ')) continue;
          peer.invites.push(head.split(' ')[1]!);
          const keep = head.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq)\s*:/i.test(l));
          sock.write([`SIP/2.0 ${status} Peer ${status}`, ...keep.map((l) => (/^to\s*:/i.test(l) ? `${l};tag=tcp${status}` : l)), 'Content-Length: 0', '', ''].join('\r\n'));
        }
      });
      sock.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    return peer;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  close(): void {
    this.server.close();
  }
}

async function statusOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { status?: number }).status;
  }
  throw new Error('the INVITE was answered 2xx');
}

/** sip.dns.failoverAfterMs in the first suite (its default is 4000). */
const FAILOVER_MS = 700;

describe('RFC 3263: NAPTR and SRV in the embedded server (real DNS server on loopback)', () => {
  let h: Harness;
  let dns: TestDnsServer;
  let capture: LogCapture;
  const peers: Record<string, StatusPeer> = {};
  let closedPort = 0;
  let tcpPeer: TcpStatusPeer;
  let silent: SilentPeer;

  before(async () => {
    for (const s of [486, 480, 503, 404, 603]) peers[s] = await StatusPeer.start(s);
    silent = await SilentPeer.start();
    closedPort = await freePort();
    tcpPeer = await TcpStatusPeer.start(486);
    const srv = (priority: number, port: number, target = 'localhost') => ({ priority, weight: 0, port, target });
    dns = await TestDnsServer.start({
      SRV: {
        // The lower priority is tried first, whatever the order the server gives.
        '_sip._udp.pbx.test': [srv(20, peers[603]!.port), srv(10, peers[486]!.port)],
        // First target closed (ICMP port unreachable), the second answers.
        '_sip._udp.failover.test': [srv(1, closedPort), srv(2, peers[480]!.port)],
        // First target answers 503: the next is tried; a 503 is what the app gets only when none is left.
        '_sip._udp.busy.test': [srv(1, peers[503]!.port), srv(2, peers[404]!.port)],
        '_sip._udp.only503.test': [srv(1, peers[503]!.port)],
        // Fifty closed targets before one that answers: only the first four are tried.
        '_sip._udp.many.test': [...Array.from({ length: 50 }, (_, i) => srv(i + 1, closedPort)), srv(99, peers[603]!.port)],
        // Port 0 and the "no service" target are no targets.
        '_sip._udp.odd.test': [srv(1, 0), srv(2, 5060, '.'), srv(3, peers[480]!.port)],
        // First target silent (no response, no ICMP): left after sip.dns.failoverAfterMs for the second.
        '_sip._udp.silent.test': [srv(1, silent.port), srv(2, peers[486]!.port)],
        // TCP: the first target refuses the connection, the second answers.
        '_sip._tcp.tcp.test': [srv(1, closedPort), srv(2, tcpPeer.port)],
        // NAPTR points elsewhere than the SRV name used without it.
        '_sip._udp.gw.naptr.test': [srv(1, peers[486]!.port)],
        '_sip._udp.naptr.test': [srv(1, peers[603]!.port)],
      },
      NAPTR: {
        'tcp.test': [{ order: 1, preference: 1, flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.tcp.test' }],
        'naptr.test': [
          { order: 10, preference: 5, flags: 's', service: 'SIP+D2U', regexp: '', replacement: '_sip._udp.gw.naptr.test' },
          // Not an SRV pointer (flags "u"): passed over.
          { order: 1, preference: 1, flags: 'u', service: 'E2U+sip', regexp: '!^.*$!sip:x@y!', replacement: '.' },
        ],
      },
      silent: ['quiet.test', '_sip._udp.quiet.test', '_sip._tcp.quiet.test'],
    });
    capture = captureLog();
    h = await startHarness({ dns: { srv: true, servers: [dns.address], timeoutMs: 300, cacheSec: 60, failoverAfterMs: FAILOVER_MS } }, capture.log);
    // An INVITE with X-Proxy-To is proxied there (a routing rule's proxy action does the same).
    h.srf.use('invite', (req, _res, next) => {
      const to = req.get('X-Proxy-To');
      if (!to) return next();
      h.srf.proxyRequest(req, [to], {} as never, () => undefined);
    });
  });
  after(() => {
    h.close();
    dns.close();
    for (const p of Object.values(peers)) p.close();
    tcpPeer.close();
    silent.close();
  });

  it('SRV: the INVITE reaches the lowest-priority target, its Request-URI unchanged', async () => {
    assert.equal(await statusOf(h.srf.createUAC('sip:alice@pbx.test', { localSdp: SDP })), 486);
    assert.deepEqual(peers[486]!.invites, ['sip:alice@pbx.test']);
    assert.deepEqual(peers[603]!.invites, []);
    assert.ok(dns.questions.includes('SRV _sip._udp.pbx.test'), dns.questions.join(', '));
  });

  it('a target that cannot be reached: the next SRV target gets the request (§4.3)', async () => {
    assert.equal(await statusOf(h.srf.createUAC('sip:bob@failover.test', { localSdp: SDP })), 480);
    assert.deepEqual(peers[480]!.invites, ['sip:bob@failover.test']);
    assert.ok(capture.find(/next DNS target/).some((l) => (l.from as { port: number }).port === closedPort), 'the failover was logged');
  });

  it('a target that sends nothing at all: after sip.dns.failoverAfterMs the next SRV target gets the request, and the first no more retransmissions', async () => {
    const started = performance.now();
    assert.equal(await statusOf(h.srf.createUAC('sip:nina@Silent.TEST', { localSdp: SDP })), 486);
    const took = performance.now() - started;
    const times = silent.invitesTo('sip:nina@Silent.TEST');
    assert.ok(times.length >= 2, `the silent target got the INVITE and its retransmissions (timer A): ${times.length}`);
    assert.ok(took >= FAILOVER_MS - 50 && took < FAILOVER_MS + 1500, `answered by the second target about ${FAILOVER_MS} ms after the INVITE: ${took.toFixed(0)} ms`);
    assert.deepEqual(peers[486]!.invites.filter((u) => u.includes('nina')), ['sip:nina@Silent.TEST']);
    await new Promise((r) => setTimeout(r, 1700)); // timer A's next retransmissions would have come by now
    assert.equal(silent.invitesTo('sip:nina@Silent.TEST').length, times.length, 'its transaction ended: nothing more sent to the silent target');
    assert.ok(capture.find(/next DNS target/).some((l) => l.why === `no response in ${FAILOVER_MS} ms`), 'the failover was logged with its reason');
    // The domain is asked once, in lower case, however the URI spells it.
    assert.ok(dns.questions.includes('SRV _sip._udp.silent.test'), dns.questions.join(', '));
    assert.equal(await statusOf(h.srf.createUAC('sip:olaf@SILENT.test', { localSdp: SDP })), 486);
    assert.equal(dns.questions.filter((q) => q === 'SRV _sip._udp.silent.test').length, 1, 'not asked again for another spelling of the name');
  });

  it('a target that answers 503: the next one gets the request; with none left the app gets the 503', async () => {
    assert.equal(await statusOf(h.srf.createUAC('sip:carol@busy.test', { localSdp: SDP })), 404);
    assert.deepEqual(peers[404]!.invites, ['sip:carol@busy.test']);
    // The 503 was ACKed by its transaction (§17.1.1.3) before the next target was tried.
    assert.ok(peers[503]!.requests.some((r) => r.startsWith('ACK ')), 'the 503 was ACKed');
    assert.equal(await statusOf(h.srf.createUAC('sip:dave@only503.test', { localSdp: SDP })), 503);
  });

  it('a domain with many SRV records: four targets at most are tried; port 0 and "." are passed over', async () => {
    const before = capture.find(/next DNS target/).length;
    assert.equal(await statusOf(h.srf.createUAC('sip:kim@many.test', { localSdp: SDP })), 503);
    assert.equal(capture.find(/next DNS target/).length - before, 3, 'three failovers: four targets');
    assert.ok(!peers[603]!.invites.includes('sip:kim@many.test'));
    assert.equal(await statusOf(h.srf.createUAC('sip:lou@odd.test', { localSdp: SDP })), 480);
  });

  it('TCP (NAPTR SIP+D2T): a refused connection is followed by the next target, which gets the INVITE over TCP', async () => {
    assert.equal(await statusOf(h.srf.createUAC('sip:max@tcp.test', { localSdp: SDP })), 486);
    assert.deepEqual(tcpPeer.invites, ['sip:max@tcp.test']);
    assert.ok(capture.find(/next DNS target/).some((l) => (l.from as { port: number; transport: string }).port === closedPort && (l.to as { transport: string }).transport === 'tcp'));
  });

  it('NAPTR: its SRV name is used (not the one without NAPTR); a record that is not an SRV pointer is passed over', async () => {
    peers[486]!.requests.length = 0;
    assert.equal(await statusOf(h.srf.createUAC('sip:erin@naptr.test', { localSdp: SDP })), 486);
    assert.deepEqual(peers[486]!.invites, ['sip:erin@naptr.test']);
    assert.deepEqual(peers[603]!.invites, []);
    assert.ok(dns.questions.includes('NAPTR naptr.test') && dns.questions.includes('SRV _sip._udp.gw.naptr.test'), dns.questions.join(', '));
  });

  it('a URI with a port, or a transport, or localhost: no NAPTR; the port is used as it is', async () => {
    const before = dns.questions.length;
    assert.equal(await statusOf(h.srf.createUAC(`sip:frank@localhost:${peers[603]!.port}`, { localSdp: SDP })), 603);
    assert.equal(await statusOf(h.srf.createUAC('sip:gina@notcp.test;transport=tcp', { localSdp: SDP })), 503);
    assert.deepEqual(dns.questions.slice(before), ['SRV _sip._tcp.notcp.test'], 'only the SRV name of the transport the URI names');
  });

  it('a DNS server that does not answer: one timeout, then A/AAAA (here none: 503); the silence is kept for the next request', async () => {
    assert.equal(await statusOf(h.srf.createUAC('sip:hal@quiet.test', { localSdp: SDP })), 503);
    const asked = dns.questions.filter((q) => q.endsWith('quiet.test')).length;
    assert.ok(asked >= 3, dns.questions.join(', '));
    assert.equal(await statusOf(h.srf.createUAC('sip:ivy@quiet.test', { localSdp: SDP })), 503);
    assert.equal(dns.questions.filter((q) => q.endsWith('quiet.test')).length, asked, 'not asked again within sip.dns.cacheSec');
    assert.ok(h.server.stats.dns.queryFailures >= 3, `the timeouts are counted (parley_sip_dns{event="query_failed"}): ${JSON.stringify(h.server.stats.dns)}`);
  });

  it('a proxied request fails over too: past a closed target and a 503 to the next SRV target; the caller gets its answer', async () => {
    const caller = await RawSipClient.open();
    try {
      for (const [domain, status] of [['failover.test', 480], ['busy.test', 404], ['silent.test', 486]] as const) {
        const r = request('INVITE', caller.port, { 'X-Proxy-To': `sip:proxied@${domain}`, 'Content-Type': 'application/sdp' }, SDP);
        caller.send(h.server.sipPort('udp'), r.text);
        const res = await caller.nextMatching(/^SIP\/2\.0 [2-6]\d\d/, 5000, r.callId);
        assert.equal(Number(res.split(' ')[1]), status, res.split('\r\n')[0]);
        assert.equal(header(res, 'CSeq'), '1 INVITE');
        assert.ok(peers[status]!.invites.includes(`sip:proxied@${domain}`));
        caller.send(h.server.sipPort('udp'), `ACK sip:parley@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${r.branch}\r\nFrom: ${header(res, 'From')}\r\nTo: ${header(res, 'To')}\r\nCall-ID: ${r.callId}\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`);
      }
      assert.ok(capture.find(/proxied request sent to the next DNS target/).length >= 3, 'the three failovers logged');
      assert.ok(silent.invitesTo('sip:proxied@silent.test').length >= 1, 'the silent target had the proxied INVITE first');
    } finally {
      caller.close();
    }
  });
});

// A sips: URI's first SRV target (_sips._tcp) presents a certificate Parley does not trust (a
// host taken over, a misconfigured SBC): the TLS handshake fails, and the request goes to the
// next target, whose certificate names the URI's domain (RFC 5922), as a refused connection's does.
describe('RFC 3263 over TLS: a target whose handshake fails is followed by the next', () => {
  let h: Harness;
  let dns: TestDnsServer;
  let pki: TestPki;
  let rogue: TlsSipServer;
  let good: TlsSipServer;

  before(async () => {
    pki = await makeTestPki();
    const named = await pki.serverFor(['tls.test']);
    rogue = await TlsSipServer.listen({ cert: pki.rogueClient.cert, key: pki.rogueClient.key });
    good = await TlsSipServer.listen({ cert: named.cert, key: named.key });
    const srv = (priority: number, port: number) => ({ priority, weight: 0, port, target: 'localhost' });
    dns = await TestDnsServer.start({ SRV: { '_sips._tcp.tls.test': [srv(1, rogue.port), srv(2, good.port)] } });
    h = await startHarness({
      listen: [
        { transport: 'udp', host: '127.0.0.1', port: 0 },
        { transport: 'tcp', host: '127.0.0.1', port: 0 },
        { transport: 'tls', host: '127.0.0.1', port: await freePort(), cert: pki.server.certFile, key: pki.server.keyFile, ca: pki.caFile },
      ],
      dns: { srv: true, servers: [dns.address], timeoutMs: 300, cacheSec: 60, failoverAfterMs: FAILOVER_MS },
    });
  });
  after(async () => {
    h.close();
    dns.close();
    rogue.close();
    good.close();
    await pki.remove();
  });

  it('sips:alice@tls.test: the untrusted first target is left on its failed handshake; the second gets the INVITE over TLS and its answer reaches the app', async () => {
    const started = performance.now();
    const status = statusOf(h.srf.createUAC('sips:alice@tls.test', { localSdp: SDP }));
    const peer = await good.accepted(5000);
    const invite = await peer.nextMatching(/^INVITE /, 5000);
    assert.match(invite, /^INVITE sips:alice@tls\.test SIP\/2\.0\r\n/, 'the Request-URI unchanged');
    assert.match(header(invite, 'via') ?? '', /^SIP\/2\.0\/TLS /i, 'sent over TLS');
    peer.send(responseTo(invite, '486 Busy Here', [], '', 'tls486'));
    assert.equal(await status, 486);
    assert.ok(performance.now() - started < FAILOVER_MS, `left on the handshake's failure, not after failoverAfterMs (${(performance.now() - started).toFixed(0)} ms)`);
    assert.equal(rogue.peers.length, 0, 'no handshake with the untrusted target completed');
    assert.ok(dns.questions.includes('SRV _sips._tcp.tls.test'), dns.questions.join(', '));
  });
});

describe('RFC 3263: a silent target with sip.dns.failoverAfterMs 0 is left at its transaction timeout (timer B; T1 50 ms: 3.2 s)', () => {
  let h: Harness;
  let dns: TestDnsServer;
  let silent: SilentPeer;
  let answering: StatusPeer;

  before(async () => {
    silent = await SilentPeer.start();
    answering = await StatusPeer.start(486);
    const srv = (priority: number, port: number) => ({ priority, weight: 0, port, target: 'localhost' });
    dns = await TestDnsServer.start({
      SRV: {
        '_sip._udp.silent.test': [srv(1, silent.port), srv(2, answering.port)],
        '_sip._udp.lone.test': [srv(1, silent.port)],
      },
    });
    h = await startHarness({ timers: { t1: 50, t2: 400, t4: 500, minSE: 90 }, dns: { srv: true, servers: [dns.address], timeoutMs: 300, cacheSec: 60, failoverAfterMs: 0 } });
  });
  after(() => {
    h.close();
    dns.close();
    silent.close();
    answering.close();
  });

  it('the next target gets the request when timer B fires; a target left alone ends in 408', async () => {
    const started = performance.now();
    assert.equal(await statusOf(h.srf.createUAC('sip:pia@silent.test', { localSdp: SDP })), 486);
    const took = performance.now() - started;
    assert.ok(took >= 3100, `not before timer B (64*T1 = 3.2 s): ${took.toFixed(0)} ms`);
    assert.deepEqual(answering.invites, ['sip:pia@silent.test']);
    assert.ok(silent.invitesTo('sip:pia@silent.test').length >= 4, 'the silent target had the INVITE and its retransmissions');
    // Alone, a silent target is not left before its timeout, and its timeout is the app's 408.
    assert.equal(await statusOf(h.srf.createUAC('sip:quin@lone.test', { localSdp: SDP })), 408);
  });
});

// Parley cluster nodes for e2e tests and the bench: each a child process
// (parley-process.ts) on its own loopback address (127.0.0.2, .3, …) with SIP,
// the API and the cluster section pointing at one Redis, and a webhook receiver
// that records every delivery (it can be told to fail for a while); SIPp callers
// straight to a node, and the clean-up of a test's callers and nodes.
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TEST_TOKEN } from './api-client.ts';
import { freePort } from './free-port.ts';
import { spawnParley, type ParleyProcess } from './parley-process.ts';
import { RtpPeer } from './rtp-peer.ts';
import { startSipp, type SippRun } from './sipp.ts';

const SCENARIOS = new URL('../e2e/scenarios/', import.meta.url).pathname;

export interface ClusterTestNode {
  id: string;
  host: string;
  sipPort: number;
  apiPort: number;
  api: string;
  proc: ParleyProcess;
}

export interface Delivery {
  delivery: string;
  event: { type: string; node?: string; data: Record<string, unknown> };
}

export class WebhookReceiver {
  readonly deliveries: Delivery[] = [];
  /** While set, every delivery is answered 503 (and not recorded). */
  failing = false;
  private constructor(
    private readonly server: http.Server,
    readonly url: string,
  ) {}

  static async start(): Promise<WebhookReceiver> {
    let self: WebhookReceiver | null = null;
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (!self || self.failing) {
          res.writeHead(503).end();
          return;
        }
        self.deliveries.push({ delivery: String(req.headers['x-parley-delivery']), event: JSON.parse(body) as Delivery['event'] });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    self = new WebhookReceiver(server, `http://127.0.0.1:${port}/hook`);
    return self;
  }

  callEnded(callId: string): Delivery[] {
    return this.deliveries.filter((d) => d.event.type === 'call.ended' && d.event.data.callId === callId);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/**
 * Starts a node; `yaml` adds routing and flows, `media` keys of `media` (YAML flow-map entries).
 * Timings are short so that tests see deaths in about two seconds.
 */
export async function startClusterNode(id: string, host: string, redisUrl: string, hookUrl: string, yaml: string, media?: string): Promise<ClusterTestNode> {
  const dir = mkdtempSync(join(tmpdir(), `parley-node-${id}-`));
  const sipPort = await freePort();
  const apiPort = await freePort();
  const api = `http://${host}:${apiPort}`;
  const proc = await spawnParley(
    `api:
  enabled: true
  host: ${host}
  port: ${apiPort}
  token: ${TEST_TOKEN}
  rulesStateFile: ${join(dir, 'rules.json')}
  webhookSpoolFile: ${join(dir, 'spool.json')}
  webhookDeadLetterFile: ${join(dir, 'dead.jsonl')}
  webhookRetryBaseMs: 100
  webhookRetryMaxMs: 400
  webhooks: [{ url: "${hookUrl}", secret: s3cret, events: [call.ended, recording.saved] }]
cluster:
  nodeId: ${id}
  sipAddress: "${host}:${sipPort}"
  apiAddress: "${api}"
  redisUrl: "${redisUrl}"
  heartbeatMs: 300
  nodeTtlMs: 1200
  leaseMs: 1500
${yaml}`,
    { host, sipPort, media },
  );
  return { id, host, sipPort, apiPort, api, proc };
}

/** What a test started and must stop: the callers' RTP peers and SIPp runs. */
export interface CallerTrack {
  peers: RtpPeer[];
  kills: Array<() => void>;
}

export interface NodeCallOptions {
  /** The Request-URI's user (sip:<to>@node). */
  to: string;
  /** The From user. */
  from: string;
  /** -d: how long the caller stays (ms). */
  holdMs: number;
  /** The tone the caller's RTP peer sends (Hz); silence when left out. */
  tone?: number;
  /** A scenario in test/e2e/scenarios (default caller-conf-rr.xml). */
  scenario?: string;
  /** More SIPp arguments (as ['-trace_msg']). */
  extra?: string[];
}

/** A SIPp caller straight to `node` with a Node RTP peer; both are added to `track` before anything can fail. */
export async function dialNode(node: ClusterTestNode, o: NodeCallOptions, track: CallerTrack): Promise<{ rtp: RtpPeer; done: Promise<SippRun> }> {
  const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
  rtp.start(o.tone ? { kind: 'tone', freq: o.tone, amplitude: 8000 } : { kind: 'silence' });
  track.peers.push(rtp);
  const s = await startSipp({
    scenario: `${SCENARIOS}${o.scenario ?? 'caller-conf-rr.xml'}`,
    transport: 'udp',
    remote: `${node.host}:${node.sipPort}`,
    calls: 1,
    timeoutS: 60,
    extra: ['-key', 'to_uri', `sip:${o.to}@${node.host}:${node.sipPort}`, '-key', 'rtpport', String(rtp.port), '-key', 'from_user', o.from, '-d', String(o.holdMs), ...(o.extra ?? [])],
  });
  track.kills.push(s.kill);
  return { rtp, done: s.done };
}

/** An after() hook's first part: kills the SIPp runs, closes the RTP peers, SIGKILLs the nodes still running. */
export async function stopCallersAndNodes(track: CallerTrack, nodes: Array<ClusterTestNode | undefined>): Promise<void> {
  for (const k of track.kills) k();
  for (const p of track.peers) await p.close().catch(() => undefined);
  for (const n of nodes) if (n && n.proc.child.exitCode === null) n.proc.child.kill('SIGKILL');
}

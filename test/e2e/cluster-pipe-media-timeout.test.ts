// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// A pipe whose RTP stops while both nodes stay alive (a firewall drops it) ends
// after media.rtpTimeoutSec, as a pipe to a lost node does: the piped caller gets
// a BYE with the media timeout's Reason (Q.850 102), and its leg leaves the
// owner's roster. The RTP is dropped for real, by an iptables rule on the
// loopback's OUTPUT chain that names the caller's node's pipe port (its source
// port one way, its destination port the other): what each Parley sees is what
// a firewall in between would make, with nothing in Parley changed for the
// test. Needs CAP_NET_ADMIN (root in the test container); skipped without it.
// Each case first shows that a room where everyone is silent keeps its pipe
// past the timeout (a pipe carries RTP every 20 ms, silence too), and one more
// that a piped caller on hold for longer than the timeout keeps it.
// Two nodes on 127.0.0.2 and .3 per case, one redis-server, SIPp callers.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { call } from '../helpers/api-client.ts';
import { dialNode, startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { waitFor } from '../helpers/wait.ts';

/** Each case its own room (a case's nodes live until the end: their leases too). */
const yaml = (n: number): string => `routing:
  rules:
    - { name: direct, match: { method: INVITE, requestUri: "sip:room@*" }, actions: [{ app: direct }] }
    - { name: ivr, match: { method: INVITE, requestUri: "sip:ivr@*" }, actions: [{ app: ivr }] }
flows:
  direct: [{ conference: { room: quiet${n} } }]
  ivr: [answer, { conference: { room: quiet${n} } }]
`;

const TIMEOUT_S = 3;
/** The timeout, a check period (1 s), the owner telling the caller's node, a BYE; with room for a loaded machine. */
const BOUND_MS = TIMEOUT_S * 1000 + 4000;

interface RosterItem {
  leg: string;
  remoteNode: string | null;
}

function iptables(args: string[]): void {
  execFileSync('iptables', ['-w', ...args], { stdio: 'pipe' });
}

const canFirewall = ((): boolean => {
  try {
    iptables(['-S', 'OUTPUT']);
    return true;
  } catch {
    return false;
  }
})();

describe('cluster: a pipe whose RTP stops ends after the media timeout (e2e)', { timeout: 300_000, skip: canFirewall ? false : 'iptables not usable (needs CAP_NET_ADMIN)' }, () => {
  let redis: TestRedis;
  let hooks: WebhookReceiver;
  const nodes: ClusterTestNode[] = [];
  const track: CallerTrack = { peers: [], kills: [] };
  /** Rules added, each removed in after() (and when its case ends). */
  const rules: string[][] = [];
  const drop = (spec: string[]): void => {
    const rule = ['OUTPUT', ...spec, '-m', 'comment', '--comment', `parley-test-${process.pid}`, '-j', 'DROP'];
    iptables(['-A', ...rule]);
    rules.push(rule);
  };
  const undrop = (): void => {
    for (const rule of rules.splice(0)) {
      try {
        iptables(['-D', ...rule]);
      } catch {
        // gone already
      }
    }
  };

  const pair = async (n: number): Promise<[ClusterTestNode, ClusterTestNode]> => {
    const media = `rtpTimeoutSec: ${TIMEOUT_S}`;
    const [a, b] = await Promise.all([startClusterNode(`ta${n}`, '127.0.0.2', redis.url, hooks.url, yaml(n), media), startClusterNode(`tb${n}`, '127.0.0.3', redis.url, hooks.url, yaml(n), media)]);
    nodes.push(a, b);
    return [a, b];
  };
  const roster = async (b: ClusterTestNode): Promise<RosterItem[] | null> => {
    const r = await call(b.api, 'GET', `/rooms/quiet${b.id.slice(2)}`);
    return r.status === 404 ? null : (r.body as { roster: RosterItem[] }).roster;
  };

  /** A silent member on B, a silent caller on A piped into B's room; resolves with the caller's run and the pipe's address on A. */
  const pipedCall = async (n: number, a: ClusterTestNode, b: ClusterTestNode) => {
    await dialNode(b, { to: 'room', from: `inroom${n}`, holdMs: 60_000 }, track);
    await waitFor('the room on B', async () => ((await roster(b)) ?? undefined)?.length === 1 || undefined, 15_000);
    const piped = await dialNode(a, { to: 'ivr', from: `piped${n}`, holdMs: 0, scenario: 'caller-wait-bye.xml', extra: ['-trace_msg'] }, track);
    await waitFor('piped caller on B\'s roster', async () => (await roster(b))?.find((e) => e.remoteNode === a.id), 15_000);
    const line = await b.proc.logged(/caller piped into the room from another node/, 15_000);
    const [ip, port] = String(line.from).split(':') as [string, string];
    // Everyone silent for twice the timeout: the pipe stays (packets are counted, not levels).
    await new Promise((r) => setTimeout(r, 2 * TIMEOUT_S * 1000));
    assert.ok((await roster(b))?.some((e) => e.remoteNode === a.id), 'a silent room keeps its piped caller past the media timeout');
    assert.equal(b.proc.lines.some((l) => /no RTP/.test(String(l.msg))) || a.proc.lines.some((l) => /no RTP/.test(String(l.msg))), false, 'no media timeout in a silent room');
    return { piped, ip, port };
  };

  const endsWithinBound = async (a: ClusterTestNode, b: ClusterTestNode, piped: Awaited<ReturnType<typeof pipedCall>>['piped']) => {
    const byeOrTimeout = await Promise.race([piped.done, new Promise<null>((r) => setTimeout(() => r(null), BOUND_MS))]);
    assert.ok(byeOrTimeout, `the piped caller got no BYE within ${BOUND_MS} ms of its pipe's RTP being dropped`);
    assert.equal(byeOrTimeout.code, 0, `the piped caller got a BYE: ${byeOrTimeout.errors || byeOrTimeout.stdout.slice(-400)}`);
    assert.match(byeOrTimeout.messages, /^BYE sip:[^]*?^Reason: Q\.850;cause=102;text="media timeout"/m);
    await waitFor('the ghost off B\'s roster', async () => ((await roster(b))?.some((e) => e.remoteNode === a.id) === false ? true : undefined), 3000);
    assert.deepEqual((await roster(b))?.map((e) => e.remoteNode), [null], 'the local member stays');
  };

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
  });

  after(async () => {
    undrop();
    await stopCallersAndNodes(track, nodes);
    await hooks?.stop();
    await redis?.stop();
  });

  it('the caller\'s voice dropped on its way to the owner: the owner ends the pipe, the caller\'s node sends the BYE', async () => {
    const [a, b] = await pair(1);
    const { piped, ip, port } = await pipedCall(1, a, b);
    drop(['-p', 'udp', '-s', ip, '--sport', port]);
    try {
      await endsWithinBound(a, b, piped);
      await b.proc.logged(/no RTP from the piped caller's node: the pipe ends/, 1000);
    } finally {
      undrop();
    }
  });

  it('the room\'s mix dropped on its way to the caller: the caller\'s node ends the call, the owner drops the leg', async () => {
    const [a, b] = await pair(2);
    const { piped, ip, port } = await pipedCall(2, a, b);
    drop(['-p', 'udp', '-d', ip, '--dport', port]);
    try {
      await endsWithinBound(a, b, piped);
      await a.proc.logged(/no RTP from the room owner through the pipe: the call ends/, 1000);
    } finally {
      undrop();
    }
  });

  it('a piped caller on hold for longer than the timeout keeps its pipe (nothing dropped)', async () => {
    const [a, b] = await pair(3);
    await dialNode(b, { to: 'room', from: 'inroom3', holdMs: 30_000 }, track);
    await waitFor('the room on B', async () => ((await roster(b)) ?? undefined)?.length === 1 || undefined, 15_000);
    // Holds 4 s after its ACK (more than the 3 s timeout), resumes 4 s later, hangs up 3 s after that.
    const piped = await dialNode(a, { to: 'ivr', from: 'piped3', holdMs: 3000, scenario: 'caller-conf-holds.xml' }, track);
    await waitFor('held on B\'s roster', async () => ((await roster(b)) as Array<RosterItem & { held: string | null }> | null)?.find((e) => e.remoteNode === a.id && e.held !== null), 15_000);
    const run = await piped.done;
    assert.equal(run.code, 0, `the caller went through its hold and hung up itself: ${run.errors || run.stdout.slice(-400)}`);
    assert.equal(b.proc.lines.some((l) => /no RTP/.test(String(l.msg))) || a.proc.lines.some((l) => /no RTP/.test(String(l.msg))), false, 'no media timeout on hold');
  });
});

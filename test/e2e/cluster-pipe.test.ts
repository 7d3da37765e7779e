// A caller answered on node A (its flow answers before it joins, as after an
// IVR) joins a room that node B owns: through a mediasoup PipeTransport between
// the two nodes' room hubs, the caller's audio into B's mix, its own mix
// (B's room without its voice) back to the caller. Two nodes on 127.0.0.2 and .3, one redis-server, SIPp callers
// straight to each node with Node RTP peers sending tones.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { purity } from '../helpers/audio-analysis.ts';
import { call } from '../helpers/api-client.ts';
import { startClusterNode, WebhookReceiver, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { startSipp, type SippRun } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';
import { SCENARIOS } from './helpers.ts';

const yaml = `routing:
  rules:
    - { name: direct, match: { method: INVITE, requestUri: "sip:piped@*" }, actions: [{ app: direct }] }
    - { name: ivr, match: { method: INVITE, requestUri: "sip:ivr@*" }, actions: [{ app: ivr }] }
flows:
  direct: [{ conference: { room: piped } }]
  ivr: [answer, { conference: { room: piped } }]
`;

function share(pcm: Int16Array, hz: number): number {
  const v: number[] = [];
  for (let s = 0; s + 2000 <= pcm.length; s += 2000) v.push(purity(pcm, 8000, hz, s, 2000));
  v.sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : 0;
}

describe('cluster: a caller answered on one node joins a room on another through a PipeTransport (e2e)', { timeout: 120_000 }, () => {
  let redis: TestRedis;
  let hooks: WebhookReceiver;
  let a: ClusterTestNode;
  let b: ClusterTestNode;
  const peers: RtpPeer[] = [];
  const kills: Array<() => void> = [];

  const dial = async (node: ClusterTestNode, user: string, tone: number, holdMs: number): Promise<{ rtp: RtpPeer; done: Promise<SippRun> }> => {
    const rtp = await new RtpPeer({ codec: 'PCMU', latch: true }).bind();
    rtp.start({ kind: 'tone', freq: tone, amplitude: 8000 });
    peers.push(rtp);
    const s = await startSipp({
      scenario: `${SCENARIOS}/caller-conf-rr.xml`,
      transport: 'udp',
      remote: `${node.host}:${node.sipPort}`,
      calls: 1,
      timeoutS: 60,
      extra: ['-key', 'to_uri', `sip:${user}@${node.host}:${node.sipPort}`, '-key', 'rtpport', String(rtp.port), '-key', 'from_user', user, '-d', String(holdMs)],
    });
    kills.push(s.kill);
    return { rtp, done: s.done };
  };

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
    [a, b] = await Promise.all([
      startClusterNode('na', '127.0.0.2', redis.url, hooks.url, yaml),
      startClusterNode('nb', '127.0.0.3', redis.url, hooks.url, yaml),
    ]);
  });

  after(async () => {
    for (const k of kills) k();
    for (const p of peers) await p.close().catch(() => undefined);
    for (const n of [a, b]) if (n && n.proc.child.exitCode === null) n.proc.child.kill('SIGKILL');
    await hooks?.stop();
    await redis?.stop();
  });

  it('hears the room and is heard in it', async (t) => {
    const inRoom = await dial(b, 'piped', 660, 12_000);
    await waitFor('room piped on B', async () => ((await call(b.api, 'GET', '/rooms')).body as Array<{ name: string; node: string }>).find((r) => r.name === 'piped' && r.node === 'nb'), 15_000);
    const piped = await dial(a, 'ivr', 440, 8000);
    await a.proc.logged(/joined a room on another node through a pipe/, 15_000);
    await b.proc.logged(/caller piped into the room from another node/, 5000);
    // Let the streams settle, then listen for 2 s.
    await new Promise((r) => setTimeout(r, 1500));
    const marks = [inRoom.rtp.received.length, piped.rtp.received.length];
    await new Promise((r) => setTimeout(r, 2000));
    const heardInRoom = inRoom.rtp.decoded(marks[0]);
    const heardPiped = piped.rtp.decoded(marks[1]);
    t.diagnostic(`shares: in room hears 440 ${share(heardInRoom, 440).toFixed(3)}; piped hears 660 ${share(heardPiped, 660).toFixed(3)}, its own 440 ${share(heardPiped, 440).toFixed(3)}`);
    assert.ok(share(heardInRoom, 440) > 0.05, `the caller in B's room hears the piped caller (440 Hz share ${share(heardInRoom, 440).toFixed(3)})`);
    assert.ok(share(heardPiped, 660) > 0.05, `the piped caller hears B's room (660 Hz share ${share(heardPiped, 660).toFixed(3)})`);
    assert.ok(share(heardPiped, 440) < 0.05, `the piped caller does not hear itself (mix-minus; 440 Hz share ${share(heardPiped, 440).toFixed(3)})`);
    assert.equal((await piped.done).code, 0);
    await b.proc.logged(/room lease released|left the conference/, 1).catch(() => undefined);
    assert.equal((await inRoom.done).code, 0);
  });
});

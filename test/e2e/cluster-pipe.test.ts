// A caller answered on node A (its flow answers before it joins, as after an
// IVR) joins a room that node B owns: through a mediasoup PipeTransport between
// the two nodes' room hubs, the caller's audio into B's mix, its own mix
// (B's room without its voice) back to the caller. The piped caller is on B's
// roster (flagged with its node), in the cluster-wide room list of either node;
// B closing the room or kicking it ends the caller's call on A with a BYE, as a
// local room close does. A recording of a call admitted for a room carries the
// room lease's epoch and the node in its sidecar and recording.saved. A piped caller's hold
// reaches the owner, which leaves it out of the mix meanwhile, as a local member on hold.
// Two nodes on 127.0.0.2 and .3, one redis-server, SIPp callers straight to each
// node with Node RTP peers sending tones.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { purity } from '../helpers/audio-analysis.ts';
import { call } from '../helpers/api-client.ts';
import { dialNode, startClusterNode, stopCallersAndNodes, WebhookReceiver, type CallerTrack, type ClusterTestNode } from '../helpers/cluster-nodes.ts';
import { TestRedis } from '../helpers/redis-server.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import type { SippRun } from '../helpers/sipp.ts';
import { waitFor } from '../helpers/wait.ts';

const yaml = `routing:
  rules:
    - { name: direct, match: { method: INVITE, requestUri: "sip:piped@*" }, actions: [{ app: direct }] }
    - { name: ivr, match: { method: INVITE, requestUri: "sip:ivr@*" }, actions: [{ app: ivr }] }
    - { name: closing, match: { method: INVITE, requestUri: "sip:closing@*" }, actions: [{ app: closing }] }
    - { name: ivrclosing, match: { method: INVITE, requestUri: "sip:ivrclosing@*" }, actions: [{ app: ivrclosing }] }
    - { name: rec, match: { method: INVITE, requestUri: "sip:rec@*" }, actions: [{ app: rec }] }
    - { name: holdroom, match: { method: INVITE, requestUri: "sip:holdroom@*" }, actions: [{ app: holdroom }] }
    - { name: ivrhold, match: { method: INVITE, requestUri: "sip:ivrhold@*" }, actions: [{ app: ivrhold }] }
    - { name: hurryroom, match: { method: INVITE, requestUri: "sip:hurryroom@*" }, actions: [{ app: hurryroom }] }
    - { name: ivrhurry, match: { method: INVITE, requestUri: "sip:ivrhurry@*" }, actions: [{ app: ivrhurry }] }
flows:
  hurryroom: [{ conference: { room: hurryroom } }]
  ivrhurry: [answer, { record: { action: start } }, { conference: { room: hurryroom } }]
  holdroom: [{ conference: { room: holdroom } }]
  ivrhold: [answer, { conference: { room: holdroom } }]
  direct: [{ conference: { room: piped } }]
  ivr: [answer, { conference: { room: piped } }]
  closing: [{ conference: { room: closing } }]
  ivrclosing: [answer, { conference: { room: closing } }]
  rec: [{ record: { action: start } }, { conference: { room: recroom } }]
`;

interface RosterItem {
  leg: string;
  uri: string;
  callId: string;
  identity: string;
  remoteNode: string | null;
}

/** Resolves once `peer` has received `n` packets after index `from` (50 a second): a window of audio counted in packets, not timed. */
function packets(peer: RtpPeer, from: number, n: number): Promise<true> {
  return waitFor(`${n} packets after ${from}`, () => peer.received.length >= from + n || undefined, 15_000);
}

/** The share of `hz` in the last second `peer` heard (50 packets). */
function lastSecond(peer: RtpPeer, hz: number): number {
  return share(peer.decoded(Math.max(0, peer.received.length - 50)), hz);
}

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
  const track: CallerTrack = { peers: [], kills: [] };

  /** `waitBye`: the caller stays until the node hangs up (caller-wait-bye.xml), else it hangs up after holdMs. */
  const dial = (node: ClusterTestNode, user: string, tone: number, holdMs: number, waitBye = false): Promise<{ rtp: RtpPeer; done: Promise<SippRun> }> =>
    dialNode(node, { to: user, from: user, tone, holdMs, scenario: waitBye ? 'caller-wait-bye.xml' : undefined }, track);

  before(async () => {
    redis = await TestRedis.start();
    hooks = await WebhookReceiver.start();
    [a, b] = await Promise.all([
      startClusterNode('na', '127.0.0.2', redis.url, hooks.url, yaml),
      startClusterNode('nb', '127.0.0.3', redis.url, hooks.url, yaml),
    ]);
  });

  after(async () => {
    await stopCallersAndNodes(track, [a, b]);
    await hooks?.stop();
    await redis?.stop();
  });

  it('hears the room and is heard in it', async (t) => {
    const inRoom = await dial(b, 'piped', 660, 15_000);
    await waitFor('room piped on B', async () => ((await call(b.api, 'GET', '/rooms')).body as Array<{ name: string; node: string }>).find((r) => r.name === 'piped' && r.node === 'nb'), 15_000);
    const piped = await dial(a, 'ivr', 440, 11_000);
    await a.proc.logged(/joined a room on another node through a pipe/, 15_000);
    await b.proc.logged(/caller piped into the room from another node/, 5000);
    // On B's roster with its identity, flagged with its node; in the merged list of A too.
    const aCall = ((await call(a.api, 'GET', '/calls')).body as Array<{ id: string; node: string; flow: string }>).find((c) => c.flow === 'ivr' && c.node === 'na');
    assert.ok(aCall, 'the piped call is on A');
    const onB = (await call(b.api, 'GET', '/rooms/piped')).body as { roster: RosterItem[] };
    const entry = onB.roster.find((e) => e.remoteNode === 'na');
    assert.ok(entry, `piped caller on B's roster: ${JSON.stringify(onB.roster)}`);
    assert.equal(entry.callId, aCall.id);
    assert.match(entry.uri, /^sip:ivr-\d+@example\.com/);
    assert.equal(entry.identity, 'normal');
    assert.equal(onB.roster.filter((e) => e.remoteNode === null).length, 1, 'the local caller');
    const merged = (await call(a.api, 'GET', '/rooms')).body as Array<{ name: string; node: string; roster: RosterItem[] }>;
    assert.deepEqual(merged.filter((r) => r.name === 'piped').map((r) => [r.node, r.roster.map((e) => e.remoteNode)]), [['nb', [null, 'na']]]);
    // Let the streams settle (each has heard the other through the pipe for a second: an event, not a
    // fixed 1.5 s), then listen for 2 s (100 packets).
    await waitFor('each caller hearing the other through the pipe', () => (lastSecond(inRoom.rtp, 440) > 0.05 && lastSecond(piped.rtp, 660) > 0.05) || undefined, 15_000);
    const marks = [inRoom.rtp.received.length, piped.rtp.received.length];
    await Promise.all([packets(inRoom.rtp, marks[0]!, 100), packets(piped.rtp, marks[1]!, 100)]);
    const heardInRoom = inRoom.rtp.decoded(marks[0]);
    const heardPiped = piped.rtp.decoded(marks[1]);
    t.diagnostic(`shares: in room hears 440 ${share(heardInRoom, 440).toFixed(3)}; piped hears 660 ${share(heardPiped, 660).toFixed(3)}, its own 440 ${share(heardPiped, 440).toFixed(3)}`);
    assert.ok(share(heardInRoom, 440) > 0.05, `the caller in B's room hears the piped caller (440 Hz share ${share(heardInRoom, 440).toFixed(3)})`);
    assert.ok(share(heardPiped, 660) > 0.05, `the piped caller hears B's room (660 Hz share ${share(heardPiped, 660).toFixed(3)})`);
    assert.ok(share(heardPiped, 440) < 0.05, `the piped caller does not hear itself (mix-minus; 440 Hz share ${share(heardPiped, 440).toFixed(3)})`);
    // Muted on B through A's API (forwarded to the owner): the room stops hearing it; the roster says so.
    assert.equal((await call(a.api, 'POST', `/rooms/piped/legs/${encodeURIComponent(entry.leg)}/mute`)).status, 200);
    const mutedEntry = ((await call(b.api, 'GET', '/rooms/piped')).body as { roster: Array<RosterItem & { muted: boolean }> }).roster.find((e) => e.leg === entry.leg);
    assert.equal(mutedEntry?.muted, true);
    // The mute is applied on B (its roster says so): judged from 200 ms on (10 packets, heardAfter's margin), for 1.5 s (75 packets).
    const mark = inRoom.rtp.received.length + 10;
    await packets(inRoom.rtp, mark, 75);
    const afterMute = inRoom.rtp.decoded(mark);
    t.diagnostic(`after mute: in room hears 440 ${share(afterMute, 440).toFixed(3)}`);
    assert.ok(share(afterMute, 440) < 0.05, `the muted piped caller is not heard (440 Hz share ${share(afterMute, 440).toFixed(3)})`);
    assert.equal((await piped.done).code, 0);
    await b.proc.logged(/room lease released|left the conference/, 1).catch(() => undefined);
    assert.equal((await inRoom.done).code, 0);
    // The piped caller left B's roster when it hung up on A.
    await waitFor('piped caller off the roster', async () => {
      const r = await call(b.api, 'GET', '/rooms/piped');
      return r.status === 404 || !(r.body as { roster: RosterItem[] }).roster.some((e) => e.remoteNode === 'na') ? true : undefined;
    }, 5000);
  });

  it('callers on A that hang up right behind their answer, while their pipe to B is set up, leave nothing on either node', async () => {
    await dial(b, 'hurryroom', 660, 20_000);
    await waitFor('room hurryroom on B', async () => ((await call(b.api, 'GET', '/rooms')).body as Array<{ name: string; node: string }>).find((r) => r.name === 'hurryroom' && r.node === 'nb'), 15_000);
    // Each hangs up as soon as it has ACKed: the pipe's set-up (mediasoup calls, a request to B) is under way,
    // and goes on (a recorded call's room closes only once the recording has what its legs buffered).
    // Each its own From (one SIPp run each, so every one would be ivrhurry-1: the room refuses a URI already on its roster, 409).
    const hurried = await Promise.all([0, 5, 10, 20, 30, 40, 60, 80].map((ms) => dialNode(a, { to: 'ivrhurry', from: `ivrhurry${ms}ms`, tone: 440, holdMs: ms }, track)));
    for (const h of hurried) {
      const run = await h.done;
      assert.equal(run.code, 0, `a hurried caller's SIPp: ${run.errors.slice(-800)}`);
    }
    const pipedOnB = async (): Promise<RosterItem[]> => {
      const r = await call(b.api, 'GET', '/rooms/hurryroom');
      return r.status === 404 ? [] : (r.body as { roster: RosterItem[] }).roster.filter((e) => e.remoteNode === 'na');
    };
    const hurriedOnA = async (): Promise<number> => ((await call(a.api, 'GET', '/calls')).body as Array<{ flow: string }>).filter((c) => c.flow === 'ivrhurry').length;
    // Settled: no hurried call on A and no piped caller on B, twice 500 ms apart (a pipe's set-up may still reach B after A's call ended).
    let clean = 0;
    await waitFor('nothing of the hurried calls left on A or B', async () => {
      clean = (await hurriedOnA()) === 0 && (await pipedOnB()).length === 0 ? clean + 1 : 0;
      if (clean < 2) await new Promise((r) => setTimeout(r, 500));
      return clean >= 2 ? true : undefined;
    }, 15_000).catch(async (err: Error) => {
      throw new Error(`${err.message}: on B ${JSON.stringify(await pipedOnB())}, on A ${await hurriedOnA()} calls`);
    });
    const onB = (await call(b.api, 'GET', '/rooms/hurryroom')).body as { roster: RosterItem[] };
    assert.deepEqual(onB.roster.map((e) => e.remoteNode), [null], `the local caller alone: ${JSON.stringify(onB.roster)}`);
  });

  it('B kicks the piped caller, then closes the room: each time the caller on A gets a BYE, as on a local room close', async () => {
    const local = await dial(b, 'closing', 660, 0, true);
    await waitFor('room closing on B', async () => ((await call(b.api, 'GET', '/rooms')).body as Array<{ name: string; node: string }>).find((r) => r.name === 'closing' && r.node === 'nb'), 15_000);
    // Kicked on B (DELETE /rooms/:name/legs/:leg on B's API): A ends the call.
    const kicked = await dial(a, 'ivrclosing', 440, 0, true);
    const leg = await waitFor('piped caller on the roster', async () => ((await call(b.api, 'GET', '/rooms/closing')).body as { roster: RosterItem[] }).roster.find((e) => e.remoteNode === 'na')?.leg, 15_000);
    // The kick goes through A's API: forwarded to B, the owner.
    assert.equal((await call(a.api, 'DELETE', `/rooms/closing/legs/${encodeURIComponent(leg)}`)).status, 200);
    const kickedRun = await kicked.done;
    assert.equal(kickedRun.code, 0, `the kicked caller got a BYE: ${kickedRun.errors || kickedRun.stdout.slice(-400)}`);
    await a.proc.logged(/the room owner ended the pipe/, 5000);
    const roster = (await call(b.api, 'GET', '/rooms/closing')).body as { roster: RosterItem[] };
    assert.deepEqual(roster.roster.map((e) => e.remoteNode), [null], 'the local caller stays, the piped one is gone');
    // Another caller piped in, then B closes the room: both callers get a BYE.
    const second = await dial(a, 'ivrclosing', 880, 0, true);
    await waitFor('second piped caller on the roster', async () => ((await call(b.api, 'GET', '/rooms/closing')).body as { roster: RosterItem[] }).roster.find((e) => e.remoteNode === 'na'), 15_000);
    assert.equal((await call(b.api, 'DELETE', '/rooms/closing')).status, 200);
    const [secondRun, localRun] = await Promise.all([second.done, local.done]);
    assert.equal(secondRun.code, 0, `the piped caller got a BYE when B closed the room: ${secondRun.errors || secondRun.stdout.slice(-400)}`);
    assert.equal(localRun.code, 0, 'the local caller got a BYE too');
    // Each call ended once, each on its own node.
    await waitFor('call.ended of the three', () => (hooks.deliveries.filter((d) => d.event.type === 'call.ended' && String(d.event.data.flow).includes('closing')).length >= 3 ? true : undefined), 10_000);
    const ended = hooks.deliveries.filter((d) => d.event.type === 'call.ended' && String(d.event.data.flow).includes('closing'));
    assert.deepEqual(ended.map((d) => `${String(d.event.data.flow)}@${d.event.node}`).sort(), ['closing@nb', 'ivrclosing@na', 'ivrclosing@na']);
  });

  it('a piped caller on hold is left out of the room\'s mix (its RTP goes on, as music on hold would), its roster entry says held; resumed, it is heard again', async (t) => {
    const inRoom = await dial(b, 'holdroom', 660, 20_000);
    await waitFor('room holdroom on B', async () => ((await call(b.api, 'GET', '/rooms')).body as Array<{ name: string; node: string }>).find((r) => r.name === 'holdroom' && r.node === 'nb'), 15_000);
    // Holds 4 s after its ACK, resumes 4 s later, hangs up 3 s after that (caller-conf-holds.xml).
    const piped = await dialNode(a, { to: 'ivrhold', from: 'ivrhold', tone: 440, holdMs: 3000, scenario: 'caller-conf-holds.xml' }, track);
    const entry = (): Promise<(RosterItem & { held: string | null }) | undefined> => call(b.api, 'GET', '/rooms/holdroom').then((r) => (r.body as { roster: Array<RosterItem & { held: string | null }> }).roster.find((e) => e.remoteNode === 'na'));
    await waitFor('the piped caller on B\'s roster', entry, 15_000);
    // What the room hears over 1.2 s (60 packets), from 200 ms (10 packets) on: a hold B's roster shows is applied in its mix by then.
    const heard = async (what: string): Promise<number> => {
      const mark = inRoom.rtp.received.length + 10;
      await packets(inRoom.rtp, mark, 60);
      const v = share(inRoom.rtp.decoded(mark), 440);
      t.diagnostic(`${what}: the room hears 440 Hz at ${v.toFixed(3)}`);
      return v;
    };
    // Settled once the room has heard the piped caller for a second (was a fixed 800 ms); it holds 4 s after its ACK.
    await waitFor('the room hearing the piped caller', () => lastSecond(inRoom.rtp, 440) > 0.05 || undefined, 15_000);
    assert.ok((await heard('before the hold')) > 0.05, 'the piped caller is heard before its hold');
    await waitFor('held on B\'s roster', async () => ((await entry())?.held === 'sendonly' ? true : undefined), 10_000);
    assert.ok((await heard('on hold')) < 0.05, 'the piped caller on hold is not heard');
    await waitFor('resumed on B\'s roster', async () => ((await entry())?.held === null ? true : undefined), 10_000);
    assert.ok((await heard('resumed')) > 0.05, 'the piped caller is heard again once resumed');
    assert.equal((await piped.done).code, 0);
    await b.proc.logged(/piped caller on hold: out of the mix/, 1000);
  });

  it('a browser session opened through A in a room B owns is answered through A too (GET, DELETE /webrtc/:sessionId forwarded to B)', async () => {
    assert.equal((await call(b.api, 'POST', '/rooms', { name: 'webrtcroom' })).status, 201);
    const created = await call(a.api, 'POST', '/rooms/webrtcroom/webrtc', { role: 'participant' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as { sessionId: string }).sessionId;
    const onA = await call(a.api, 'GET', `/webrtc/${id}`);
    assert.equal(onA.status, 200, `the session through A: ${JSON.stringify(onA.body)}`);
    assert.equal((await call(b.api, 'GET', `/webrtc/${id}`)).status, 200, 'the session lives on B');
    assert.equal((await call(a.api, 'DELETE', `/webrtc/${id}`)).status, 200);
    assert.equal((await call(b.api, 'GET', `/webrtc/${id}`)).status, 404, 'closed on B');
    assert.equal((await call(a.api, 'GET', `/webrtc/${id}`)).status, 404);
    await call(b.api, 'DELETE', '/rooms/webrtcroom');
  });

  it('a recording of a call admitted for a room carries the lease epoch and the node (sidecar, recording.saved)', async () => {
    const spy = new Redis(redis.url, { lazyConnect: true });
    await spy.connect();
    try {
      const c = await dial(b, 'rec', 440, 2500);
      const lease = await waitFor('lease of recroom', async () => (await spy.get('parley:room:recroom')) ?? undefined, 15_000);
      const [owner, epoch] = lease.split(' ');
      assert.equal(owner, 'nb');
      // Kamailio's plain companion key: the owner's SIP address.
      assert.equal(await spy.get('parley:owner:recroom'), `${b.host}:${b.sipPort}`);
      assert.equal((await c.done).code, 0);
      const saved = await waitFor('recording.saved', () => hooks.deliveries.find((d) => d.event.type === 'recording.saved' && (d.event.data.cluster as { room?: string } | undefined)?.room === 'recroom'), 20_000);
      assert.deepEqual(saved.event.data.cluster, { node: 'nb', room: 'recroom', epoch: Number(epoch) });
      const sidecar = readdirSync(b.proc.recordings).filter((f) => f === `${String(saved.event.data.id)}.json`);
      assert.equal(sidecar.length, 1);
      const meta = JSON.parse(readFileSync(join(b.proc.recordings, sidecar[0]!), 'utf8')) as { state: string; cluster?: unknown };
      assert.equal(meta.state, 'finalized');
      assert.deepEqual(meta.cluster, { node: 'nb', room: 'recroom', epoch: Number(epoch) });
      // Released with the room: both keys gone.
      await waitFor('lease released', async () => ((await spy.get('parley:room:recroom')) === null && (await spy.get('parley:owner:recroom')) === null ? true : undefined), 10_000);
    } finally {
      spy.disconnect();
    }
  });
});

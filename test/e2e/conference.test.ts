// A conference with identities, end to end: three SIPp callers, a hidden
// recorder leg (generated identity) and an impersonating leg, each sending its
// own tone from a Node RTP peer. The roster shows exactly the visible ones;
// every caller hears the others and not itself; the hidden leg hears everyone
// and nobody hears it; a second join with a URI already present is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { purity } from '../helpers/audio-analysis.ts';
import { waitFor } from '../helpers/wait.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { sippOk, startCaller, type Peer } from './helpers.ts';

const TONES = { alice: 440, bob: 660, carol: 880, assistant: 1200, recorder: 300 } as const;
type Who = keyof typeof TONES;

const yaml = `
routing:
  rules:
    - name: recorder
      match: { from: "sip:recorder@*" }
      actions: [{ app: conf-hidden }]
    - name: assistant
      match: { from: "sip:assistant@*" }
      actions: [{ app: conf-boss }]
    - name: everyone
      match: { method: INVITE, media: audio }
      actions: [{ app: conf }]
flows:
  conf: [{ conference: { room: demo } }]
  conf-hidden: [{ conference: { room: demo, identity: generated } }]
  conf-boss: [{ conference: { room: demo, identity: impersonate, as: { uri: "sip:boss@example.com", displayName: Boss } } }]
`;

/**
 * A tone's share, as the median over 250 ms windows: a single glitch (a frame lost or
 * concealed) breaks the tone's phase, which a Goertzel over the whole window would count
 * as missing energy, though the party was heard all along.
 */
function share(pcm: Int16Array, hz: number): number {
  const n = 2000;
  const v: number[] = [];
  for (let s = 0; s + n <= pcm.length; s += n) v.push(purity(pcm, 8000, hz, s, n));
  v.sort((a, b) => a - b);
  return v.length ? v[Math.floor(v.length / 2)]! : 0;
}

describe('conference with a hidden leg and an impersonating leg (SIPp callers, real audio)', () => {
  let parley: RunningParley;
  const peers = new Map<Who, Peer>();
  const heard = new Map<Who, Int16Array>();
  let roster: string[] = [];
  let allEntries = 0;

  before(async () => {
    parley = await startParley(yaml);
    for (const who of Object.keys(TONES) as Who[]) {
      peers.set(who, await startCaller(parley, 'caller-conf.xml', 'sip:demo@127.0.0.1:5999', { fromUser: who, toneHz: TONES[who], pauseMs: 9000 }));
    }
    const conf = await waitForConference(parley, 5);
    roster = conf.roster.visible.map((e) => e.uri).sort();
    allEntries = conf.roster.size;
    // Everyone is on the roster; media through the room links settles a moment later
    // (each link's SSRC is learned from its first packets). Wait until the hidden leg,
    // which hears everyone, hears every caller, then listen for 1.5 s.
    await settled(peers.get('recorder')!, ['alice', 'bob', 'carol', 'assistant']);
    const marks = new Map([...peers].map(([w, p]) => [w, p.rtp.received.length]));
    await new Promise((r) => setTimeout(r, 1500));
    for (const [w, p] of peers) heard.set(w, p.rtp.decoded(marks.get(w)!));
  });

  after(async () => {
    for (const p of peers.values()) await p.rtp.close();
    await parley?.stop();
  });

  it('the roster shows the three callers and the impersonated URI, not the hidden leg', () => {
    assert.deepEqual(roster, ['sip:alice@example.com', 'sip:bob@example.com', 'sip:boss@example.com', 'sip:carol@example.com']);
    assert.equal(allEntries, 5, 'the hidden leg is in the room, just not on the roster');
  });

  it('a second join with a URI already present is refused with 486', async () => {
    const dup = await startCaller(parley, 'caller-conf-expect-486.xml', 'sip:demo@127.0.0.1:5999', { fromUser: 'alice' });
    sippOk(await dup.done, 'duplicate caller');
    await dup.rtp.close();
  });

  it('each caller hears the others and not itself, and never the hidden leg', () => {
    for (const who of ['alice', 'bob', 'carol', 'assistant'] as Who[]) {
      const pcm = heard.get(who)!;
      assert.ok(pcm.length >= 8000, `${who} heard ${pcm.length / 8000} s`);
      for (const other of ['alice', 'bob', 'carol', 'assistant'] as Who[]) {
        const s = share(pcm, TONES[other]);
        if (other === who) assert.ok(s < 0.02, `${who} hears itself: ${s.toFixed(3)}`);
        else assert.ok(s > 0.1, `${who} hears ${other}: ${s.toFixed(3)}`);
      }
      const hidden = share(pcm, TONES.recorder);
      assert.ok(hidden < 0.02, `${who} hears the hidden leg: ${hidden.toFixed(3)}`);
    }
  });

  it('the hidden leg hears everyone', () => {
    const pcm = heard.get('recorder')!;
    for (const other of ['alice', 'bob', 'carol', 'assistant'] as Who[]) {
      const s = share(pcm, TONES[other]);
      assert.ok(s > 0.1, `the hidden leg hears ${other}: ${s.toFixed(3)}`);
    }
  });

  it('every call ends cleanly and the room closes', async () => {
    for (const [who, p] of peers) sippOk(await p.done, who);
    await waitFor('no media room left', () => parley.app.media!.roomCount === 0);
  });
});

/** Resolves once the last 0.5 s `peer` received holds each of `who`'s tones. */
async function settled(peer: Peer, who: Who[]): Promise<void> {
  const until = Date.now() + 10_000;
  for (;;) {
    const n = peer.rtp.received.length;
    if (n > 25) {
      const pcm = peer.rtp.decoded(n - 25);
      if (who.every((w) => purity(pcm, 8000, TONES[w]) > 0.1)) return;
    }
    if (Date.now() > until) throw new Error('the conference audio did not settle');
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function waitForConference(parley: RunningParley, size: number) {
  const until = Date.now() + 15_000;
  for (;;) {
    const conf = await parley.app.conferences!.get('demo');
    if (conf && conf.roster.size >= size) return conf;
    if (Date.now() > until) throw new Error(`the conference did not reach ${size} legs (has ${conf?.roster.size ?? 0})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

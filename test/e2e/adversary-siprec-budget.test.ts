// An SRC that sends recording metadata faster than Parley will parse it
// (siprec.metadataBudget), driven by hand over UDP: per session, an UPDATE over the
// budget gets 503 with Retry-After and a Warning naming the key, the dialog and the
// recording go on (the stream's tone is in its stem without a gap), a smaller update
// later is taken; per source address, a new session's INVITE over the source's
// budget is recorded with its metadata kept as received but not parsed, and the
// first session's next large update is refused. Each counted in the metrics.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ActiveCall } from '../../src/call/call-manager.ts';
import { apiBase, apiYaml, call } from '../helpers/api-client.ts';
import { parleyPerSuite, type RunningParley } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { VIA_DRACHTIO } from '../helpers/real-drachtio.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { waitFor } from '../helpers/wait.ts';
import { finalSidecar, metadata, multipart, paddedMetadata, RawSrc, sdp } from './adversary-src.ts';
import { statusOf } from './raw-dialog.ts';
import { share, silentRuns, SIPREC_ROUTING, stemOf } from './siprec-helpers.ts';

const META = 'application/rs-metadata+xml';
/** A document the bucket (32 KiB, refilled at 1 KiB/s) takes once, not twice in a row. */
const BIG = 30_000;

// Not through a real drachtio-server 0.9.10 (PARLEY_TEST_VIA_DRACHTIO): sofia-sip in it answers a UDP
// request whose body is over 8192 bytes 400 Bad Request itself, before any app (the embedded server
// takes a datagram up to 64 KiB). These requests are 30 KB over UDP (RFC 3261 §18.1.1 would have a
// client send them over TCP; this SRC does not).
const REAL = 'a real drachtio-server 0.9.10 answers a UDP request with a body over 8192 bytes 400 itself';

function budgetYaml(budget: string): string {
  const state = join(mkdtempSync(join(tmpdir(), 'parley-adv-budget-')), 'rules.json');
  return `${apiYaml(state)}${SIPREC_ROUTING}
siprec:
  maxMetadataBytes: 32768
  metadataBudget: ${budget}
`;
}

/** A session from its own UDP socket (on `host`: 127.0.0.1 unless told, one source), its stream sending 440 Hz once answered. */
async function session(p: RunningParley, meta: string, host?: string): Promise<{ src: RawSrc; ua: RawSipClient; peer: RtpPeer; call: ActiveCall; ended: Promise<void> }> {
  const calls = p.app.calls!;
  const ua = await RawSipClient.open(host);
  const peer = await new RtpPeer({ codec: 'PCMU', latch: false }).bind();
  const src = new RawSrc(ua, p.sipPort);
  const started = new Promise<ActiveCall>((resolve) => calls.once('callstart', resolve));
  assert.equal(await src.invite(multipart([['application/sdp', sdp(peer.port)], [META, meta]])), 200);
  const c = await started;
  const ended = new Promise<void>((resolve) => {
    const on = (x: ActiveCall): void => {
      if (x !== c) return;
      calls.off('callend', on);
      resolve();
    };
    calls.on('callend', on);
  });
  await waitFor('the session recording', () => c.call.activeRecording ?? undefined, 10_000);
  peer.useRemoteSdp(c.call.room.leg('s0')!.localSdp);
  peer.start({ kind: 'tone', freq: 440, amplitude: 8000 });
  return { src, ua, peer, call: c, ended };
}

const header = (res: string, name: string): string | undefined => new RegExp(`^${name}:\\s*(.*?)\\s*$`, 'mi').exec(res)?.[1];
const audio = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function metric(p: RunningParley, name: string, labels: string): Promise<number> {
  const m = await call(apiBase(p), 'GET', '/metrics');
  assert.equal(m.status, 200, m.text);
  const line = m.text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  assert.ok(line, `${name}{${labels}} in /metrics`);
  return Number(line.split(' ').at(-1));
}

describe('adversary: a SIPREC client over its metadata budget, per session', { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = parleyPerSuite(budgetYaml('{ sessionBytesPerSecond: 1024, sessionBurstBytes: 32768, sourceBytesPerSecond: 1048576, sourceBurstBytes: 4194304 }'));

  it('the update past the budget gets 503 + Retry-After naming the key; the recording goes on without a gap, a smaller update is taken', async () => {
    const p = parley();
    const s = await session(p, metadata(1));
    try {
      await audio(1000);
      assert.equal(statusOf(await s.src.exchange('UPDATE', META, paddedMetadata(2, BIG))), 200, 'the first large version fits the burst');
      const refused = await s.src.exchange('UPDATE', META, paddedMetadata(3, BIG));
      assert.match(refused.split('\r\n')[0]!, /^SIP\/2\.0 503 Metadata Rate Exceeded$/, refused);
      assert.ok(Number(header(refused, 'Retry-After')) >= 1, `Retry-After: ${header(refused, 'Retry-After')}`);
      assert.match(header(refused, 'Warning') ?? '', /siprec\.metadataBudget\.sessionBytesPerSecond/);
      await audio(1500);
      assert.equal(await s.src.request('UPDATE', META, metadata(4)), 200, 'a small version later is taken: the dialog lives');
      assert.equal(await s.src.request('BYE', null), 200);
      await s.ended;
      const meta = await finalSidecar(p, s.src.callId);
      const versions = meta.siprec!.metadataVersions;
      assert.equal(versions.length, 3, `versions 1, 2 and 4 kept: ${JSON.stringify(versions.map((v) => v.file))}`);
      assert.ok(versions.every((v) => v.problem === null), JSON.stringify(versions));
      for (const v of versions) readFileSync(join(p.recordingDir, v.file));
      assert.ok(meta.siprec!.problems.some((x) => /refused \(503\) over siprec\.metadataBudget\.sessionBytesPerSecond/.test(x)), JSON.stringify(meta.siprec!.problems));
      // The stream was recorded through the refusal: its tone end to end, no gap.
      const stem = stemOf(p, meta, 's0');
      assert.ok(stem.samples.length / stem.sampleRate >= 2, `the stem holds ${stem.samples.length / stem.sampleRate} s`);
      assert.ok(share(stem.samples, stem.sampleRate, 440) > 0.8, 'the stem is the 440 Hz tone');
      assert.deepEqual(silentRuns(stem.samples, stem.sampleRate), [], 'no silent stretch in the stem');
      assert.equal(await metric(p, 'parley_siprec_metadata_over_budget', 'scope="session"'), 1);
    } finally {
      await s.peer.close();
      s.ua.close();
    }
  });
});

describe('adversary: a SIPREC client over its metadata budget, per source address', { skip: VIA_DRACHTIO && REAL }, () => {
  const parley = parleyPerSuite(budgetYaml('{ sessionBytesPerSecond: 1048576, sessionBurstBytes: 4194304, sourceBytesPerSecond: 1024, sourceBurstBytes: 32768 }'));

  it("a new session over the source's budget is recorded, its metadata kept unparsed; the other session's next large update is refused", async () => {
    const p = parley();
    const a = await session(p, metadata(1));
    let b: Awaited<ReturnType<typeof session>> | null = null;
    let c: Awaited<ReturnType<typeof session>> | null = null;
    try {
      assert.equal(await a.src.request('UPDATE', META, paddedMetadata(2, BIG)), 200);
      const bMeta = paddedMetadata(1, BIG);
      b = await session(p, bMeta);
      await audio(1500);
      const refused = await a.src.exchange('UPDATE', META, paddedMetadata(3, BIG));
      assert.equal(statusOf(refused), 503, refused);
      assert.match(header(refused, 'Warning') ?? '', /siprec\.metadataBudget\.sourceBytesPerSecond/);
      // An honest SRC at another address (127.0.0.2) has its own budget: its large metadata is parsed.
      c = await session(p, paddedMetadata(1, BIG), '127.0.0.2');
      assert.equal(await c.src.request('UPDATE', META, metadata(2)), 200, 'the other source is served');
      assert.equal(await c.src.request('BYE', null), 200);
      await c.ended;
      const cMeta = await finalSidecar(p, c.src.callId);
      assert.deepEqual(cMeta.siprec!.metadataVersions.map((v) => v.problem), [null, null], "the other source's versions are parsed");
      assert.equal(await b.src.request('BYE', null), 200);
      assert.equal(await a.src.request('BYE', null), 200);
      await Promise.all([a.ended, b.ended]);
      const meta = await finalSidecar(p, b.src.callId);
      const [v] = meta.siprec!.metadataVersions;
      assert.match(v!.problem ?? '', /not parsed: over siprec\.metadataBudget\.sourceBytesPerSecond/);
      assert.equal(readFileSync(join(p.recordingDir, v!.file), 'utf8'), bMeta, 'the version is kept as received');
      const stem = stemOf(p, meta, 's0');
      assert.ok(share(stem.samples, stem.sampleRate, 440) > 0.8, "the new session's stream is recorded");
      assert.equal(await metric(p, 'parley_siprec_metadata_over_budget', 'scope="source"'), 2);
    } finally {
      await a.peer.close();
      a.ua.close();
      await b?.peer.close();
      b?.ua.close();
      await c?.peer.close();
      c?.ua.close();
    }
  });
});

// SIPREC sessions that change while they are recorded: pauses (a=inactive on one
// stream; c=0.0.0.0 on all, the BroadWorks way) then resumes, with the timeline kept
// (recording.pauseMode: silence) and nothing recorded while paused although the
// SRC's RTP keeps coming; a metadata-only UPDATE bringing the real participants (Avaya)
// and a partial one adding a third; a session refresh; a transfer (the session ends,
// a new one in the same group) linked and found through GET /recordings filters; the
// recording.saved event carrying the participants; a re-offer failing part-way is
// refused (488) and rolled back, the recording going on with the old streams.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiBase, apiYaml, call } from '../helpers/api-client.ts';
import { channel } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { waitFor } from '../helpers/wait.ts';
import { runSrc, share, silentRuns, stemOf, TONES, wav } from './siprec-helpers.ts';

const yaml = `
routing:
  rules:
    - name: siprec
      match: { method: INVITE, headers: { Contact: { regex: "[; ]\\\\+sip\\\\.src\\\\b" } } }
      actions: [{ app: siprec }]
`;

const { A, B } = TONES;

/** Within 400 ms of `ms` (a loaded machine delays a re-INVITE's effect by a few frames). */
function near(actual: number, ms: number, what: string): void {
  assert.ok(Math.abs(actual - ms) <= 400, `${what}: ${actual} ms, expected about ${ms} ms`);
}

describe('SIPREC sessions that change (SIPp SRC)', () => {
  let parley: RunningParley;
  const config = yaml + apiYaml(join(mkdtempSync(join(tmpdir(), 'siprec-')), 'rules.json'));

  before(async () => {
    parley = await startParley(config, { pauseMode: 'silence' });
  });

  after(async () => {
    await parley?.stop();
  });

  it('pause by a=inactive (one stream) and by c=0.0.0.0 (all), then resume: silence of the right length, nothing recorded while paused', async () => {
    const { meta, sipp, peers } = await runSrc(parley, 'siprec-pause.xml', { tones: [A, B] });
    for (const p of peers) assert.equal(p.received.length, 0, 'no RTP to the SRC');
    const answer = (cseq: number): string => sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200/.test(m) && new RegExp(`CSeq: ${cseq} INVITE`).test(m))!;
    assert.match(answer(2), /a=inactive[\s\S]*a=label:1[\s\S]*a=recvonly[\s\S]*a=label:2/, 'stream 1 answered inactive');
    assert.equal(answer(4).match(/a=inactive/g)?.length, 2, 'c=0.0.0.0: both streams inactive');
    assert.equal(answer(5).match(/a=recvonly/g)?.length, 2, 'resumed');

    const s0 = stemOf(parley, meta, 's0');
    const s1 = stemOf(parley, meta, 's1');
    // The SRC's RTP kept coming while paused: the stems hold silence there, not the tone.
    const runs0 = silentRuns(s0.samples, s0.sampleRate).filter(([, len]) => len >= 600);
    const runs1 = silentRuns(s1.samples, s1.sampleRate).filter(([, len]) => len >= 600);
    assert.equal(runs0.length, 2, `stream 1: two pauses (${JSON.stringify(runs0)})`);
    near(runs0[0]![1], 2000, 'a=inactive pause');
    near(runs0[1]![1], 2000, 'c=0.0.0.0 pause');
    assert.equal(runs1.length, 1, `stream 2: one pause (${JSON.stringify(runs1)})`);
    near(runs1[0]![1], 2000, 'c=0.0.0.0 pause of stream 2');
    near(runs1[0]![0], runs0[1]![0], 'both streams paused at once');
    // Around the pauses the tones are there, each in its own stem.
    assert.ok(share(s0.samples, s0.sampleRate, A) > 0.5 && share(s0.samples, s0.sampleRate, B) < 0.02);
    assert.ok(share(s1.samples, s1.sampleRate, B) > 0.5 && share(s1.samples, s1.sampleRate, A) < 0.02);
    // The timeline is kept (pauseMode silence): the mix is as long as the session (10 s).
    near(meta.mix.durationMs, 10_000, 'mix length');

    const streams = meta.siprec!.streams;
    assert.equal(streams[0]!.pauses.length, 2);
    assert.equal(streams[1]!.pauses.length, 1);
    assert.ok(streams.every((s) => s.pauses.every((p) => p.end !== null)));
    // All streams paused: the recording's own pause, listed with its reason.
    assert.equal(meta.pauses.length, 1);
    assert.match(meta.pauses[0]!.reason ?? '', /siprec/);
    near(meta.pauses[0]!.end!.fileMs - meta.pauses[0]!.start.fileMs, 2000, 'recording pause');
    assert.deepEqual(meta.siprec!.updates.map((u) => [u.method, u.sdp, u.metadata]), [['INVITE', true, false], ['INVITE', true, false], ['INVITE', true, false], ['INVITE', true, false]]);
  });

  it('metadata-only UPDATEs: the real parties replace the placeholder, a partial one adds a third; a session refresh changes nothing; every version kept', async () => {
    const { meta, sipp } = await runSrc(parley, 'siprec-update-metadata.xml', { tones: [A, B] });
    const sr = meta.siprec!;
    assert.deepEqual(sr.metadataVersions.map((v) => [v.method, v.dataMode, v.problem]), [['INVITE', 'complete', null], ['UPDATE', 'complete', null], ['UPDATE', 'partial', null]]);
    for (const v of sr.metadataVersions) {
      // Each version is written and hashed before the sidecar is finalized (and signed).
      assert.equal(v.sha256, createHash('sha256').update(readFileSync(join(parley.recordingDir, v.file))).digest('hex'), v.file);
    }
    // Signed after the last change of the sidecar, audit-logged: verify checks the metadata versions too.
    const id = meta.mix.file.replace(/\.mix\.wav$/, '');
    const verified = await waitFor('the SIPREC recording signed and verified', async () => {
      const v = (await call(apiBase(parley), 'GET', `/recordings/${id}/verify`)).body as { ok: boolean; signature: string; files: { file: string; ok: boolean }[]; problems: unknown[] };
      return v.signature === 'missing' ? undefined : v;
    });
    assert.deepEqual(verified.problems, []);
    assert.equal(verified.ok, true);
    assert.equal(verified.signature, 'valid');
    for (const v of sr.metadataVersions) assert.ok(verified.files.some((f) => f.file === v.file && f.ok), v.file);
    // The placeholder sent both streams until the real parties took them over (it keeps them as its history).
    assert.deepEqual(sr.participants.map((p) => [p.aor, p.leftAt !== null, p.sends, p.stereo]), [
      ['sip:unknown@avaya.invalid', true, ['s0', 's1'], 'left'],
      ['sip:alice@example.com', false, ['s0'], 'left'],
      ['sip:bob@example.com', false, ['s1'], 'right'],
      ['sip:carol@example.com', false, [], null],
    ]);
    assert.deepEqual(sr.streams.map((s) => [s.participant, s.senders!.map((x) => [x.participant, x.to === null])]), [
      ['p-alice', [['p-placeholder', false], ['p-alice', true]]],
      ['p-bob', [['p-placeholder', false], ['p-bob', true]]],
    ]);
    // The legs and the stereo file follow the real parties once they are known.
    assert.deepEqual(meta.legs.map((l) => [l.id, l.uri, l.displayName, l.role, l.stereo]), [
      ['s0', 'sip:alice@example.com', 'Alice', 'caller', 'left'],
      ['s1', 'sip:bob@example.com', 'Bob', 'other', 'right'],
    ]);
    const st = wav(parley, meta.stereo!.file);
    assert.ok(share(channel(st.samples, 2, 0), st.sampleRate, A) > 0.8);
    assert.ok(share(channel(st.samples, 2, 1), st.sampleRate, B) > 0.8);
    // The session refresh (same SDP) is answered with the same SDP version (RFC 3264 §8).
    const o = (cseq: number): string => /^o=.*$/m.exec(sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200/.test(m) && new RegExp(`CSeq: ${cseq} INVITE`).test(m))!)![0];
    assert.equal(o(4), o(1));
    assert.deepEqual(sr.updates.map((u) => [u.method, u.sdp, u.metadata]), [['UPDATE', false, true], ['UPDATE', false, true], ['INVITE', true, false]]);
  });

  it('a re-offer that fails part-way (stream 1 paused, stream 2 with a codec Parley lacks, a new stream 3) gets 488 and changes nothing: stream 1 is not paused, no third leg, both stems keep their tone', async () => {
    const { meta, sipp } = await runSrc(parley, 'siprec-reoffer-fails.xml', { tones: [A, B], extraKeys: ['-key', 'rtp3', '4002'] });
    const final = (cseq: number, status: number): string | undefined =>
      sipp.messages.split(/-{10,}/).find((m) => new RegExp(`SIP/2\\.0 ${status} `).test(m) && new RegExp(`CSeq: ${cseq} INVITE`).test(m));
    const refused = final(2, 488);
    assert.ok(refused, 'the re-offer is refused with 488');
    assert.match(refused, /^Warning: 3\d\d parley "stream 2: /m);
    assert.ok(final(3, 200), 'the session goes on: the next re-INVITE is answered');
    assert.deepEqual(meta.legs.map((l) => l.id), ['s0', 's1'], 'no leg for the third stream');
    for (const [leg, tone, other] of [['s0', A, B], ['s1', B, A]] as const) {
      const w = stemOf(parley, meta, leg);
      // Stream 1 was paused by the re-offer's first m-line, then given its previous offer back: no gap.
      assert.deepEqual(silentRuns(w.samples, w.sampleRate).filter(([, len]) => len >= 400), [], `${leg}: no pause`);
      assert.ok(share(w.samples, w.sampleRate, tone) > 0.8 && share(w.samples, w.sampleRate, other) < 0.02, `${leg} holds its tone`);
    }
    near(meta.mix.durationMs, 6000, 'mix length');
    const sr = meta.siprec!;
    assert.equal(sr.streams.length, 2);
    assert.ok(sr.streams.every((st) => st.pauses.length === 0), 'no pause noted');
    assert.deepEqual(meta.pauses, []);
    // Only the refresh that succeeded is an update.
    assert.deepEqual(sr.updates.map((u) => [u.method, u.sdp]), [['INVITE', true]]);
  });

  it('glare: a re-INVITE offer before the ACK of an offerless re-INVITE\'s 200 (our offer; the answer comes in that ACK) gets 491; the recording goes on', async () => {
    // RFC 3261 §14.2. The embedded server answers it 491 itself; a real drachtio-server hands it to Parley.
    const { meta, sipp } = await runSrc(parley, 'siprec-glare-offerless.xml', { tones: [A, B] });
    assert.match(sipp.messages, /SIP\/2\.0 491[\s\S]*CSeq: 3 INVITE/);
    const s1 = stemOf(parley, meta, 's1');
    assert.ok(share(s1.samples, s1.sampleRate, B) > 0.8);
    assert.deepEqual(meta.siprec!.updates.map((u) => [u.method, u.sdp]), [['INVITE', false]]);
  });

  it('a re-INVITE offer before the ACK of a 200 that answered the previous offer is taken (RFC 5407 §3.1.4: that exchange is complete), not 491', async () => {
    const { meta, sipp } = await runSrc(parley, 'siprec-reinvite-before-ack.xml', { tones: [A, B] });
    assert.doesNotMatch(sipp.messages, /SIP\/2\.0 491/);
    const final = (cseq: number): string | undefined => sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200 /.test(m) && new RegExp(`CSeq: ${cseq} INVITE`).test(m));
    assert.ok(final(2) && final(3), 'both re-INVITEs answered 200');
    const s1 = stemOf(parley, meta, 's1');
    assert.ok(share(s1.samples, s1.sampleRate, B) > 0.8);
    assert.deepEqual(meta.siprec!.updates.map((u) => [u.method, u.sdp]), [['INVITE', true], ['INVITE', true]]);
  });

  it('a transfer: the session ends and a new one starts in the same group; linked, found by group, participant and time, saved with its participants', async () => {
    const base = apiBase(parley);
    const events: unknown[] = [];
    const hub = parley.app.api!.hub;
    const onEvent = (e: { type: string; data: unknown }): void => {
      if (e.type === 'recording.saved') events.push(e.data);
    };
    hub.on('event', onEvent);
    const t0 = new Date().toISOString();
    const first = await runSrc(parley, 'siprec-two-streams.xml', { tones: [A, B], group: 'grp-transfer', session: 'sess-1', holdMs: 1500 });
    const second = await runSrc(parley, 'siprec-two-streams.xml', { tones: [A, B], group: 'grp-transfer', session: 'sess-2', holdMs: 1500, aors: ['sip:alice@example.com', 'sip:dave@example.com'] });
    const id = (m: typeof first.meta): string => m.mix.file.replace(/\.mix\.wav$/, '');
    assert.deepEqual(second.meta.siprec!.linked, [id(first.meta)]);

    const byGroup = (await call(base, 'GET', '/recordings?group=grp-transfer')).body as { id: string; siprec: { sessionId: string } }[];
    assert.deepEqual(byGroup.map((r) => r.siprec.sessionId).sort(), ['sess-1', 'sess-2']);
    const bySession = (await call(base, 'GET', '/recordings?session=sess-1')).body as { id: string }[];
    assert.deepEqual(bySession.map((r) => r.id), [id(first.meta)]);
    const dave = (await call(base, 'GET', `/recordings?participant=${encodeURIComponent('sip:dave@example.com')}`)).body as { id: string }[];
    assert.deepEqual(dave.map((r) => r.id), [id(second.meta)]);
    const later = (await call(base, 'GET', `/recordings?group=grp-transfer&since=${encodeURIComponent(t0)}`)).body as unknown[];
    assert.equal(later.length, 2);
    const none = (await call(base, 'GET', `/recordings?group=grp-transfer&until=${encodeURIComponent(t0)}`)).body as unknown[];
    assert.equal(none.length, 0);
    assert.equal((await call(base, 'GET', '/recordings?since=yesterday')).status, 400);
    // The metadata file is served like the audio.
    const v = second.meta.siprec!.metadataVersions[0]!.file;
    const got = await call(base, 'GET', `/recordings/${id(second.meta)}/files/${v}`);
    assert.equal(got.status, 200);
    assert.match(got.text, /sip:dave@example\.com/);

    hub.off('event', onEvent);
    const saved = events as { id: string; siprec?: { groupId: string; participants: { aor: string }[] } }[];
    const s2 = saved.find((e) => e.id === id(second.meta));
    assert.equal(s2?.siprec?.groupId, 'grp-transfer');
    assert.deepEqual(s2?.siprec?.participants.map((p) => p.aor), ['sip:alice@example.com', 'sip:dave@example.com']);

    // After a restart, a third session of the group is linked to both (from the recordings index, not from memory).
    const dir = parley.app.config.recording.dir;
    await parley.stop();
    parley = await startParley(config, { pauseMode: 'silence', recording: { dir } });
    const third = await runSrc(parley, 'siprec-two-streams.xml', { tones: [A, B], group: 'grp-transfer', session: 'sess-3', holdMs: 1500 });
    assert.deepEqual(third.meta.siprec!.linked, [id(first.meta), id(second.meta)]);
  });
});

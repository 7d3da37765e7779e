// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Parley as a SIPREC recording server (RFC 7866) end to end: a SIPp recording
// client (SRC) sends the multipart INVITE (SDP + RFC 7865 metadata) through the
// shipped rules (Require: siprec → the built-in siprec flow), Node RTP peers send a
// different tone on each stream, and the files are checked as audio: each stem holds
// its own tone only, the stereo channels hold the two participants, the mix all of
// them; the sidecar holds the metadata. Nothing is ever sent to the SRC.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RemoteMediaRoom } from '../../src/media-plane/thread/remote-media-room.ts';
import { channel } from '../helpers/audio-analysis.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { runSrc, share, SIPREC_ROUTING, stemOf, TONES, wav } from './siprec-helpers.ts';

const yaml = `${SIPREC_ROUTING}    - name: gateway
      match: { method: INVITE, media: audio }
      actions: [{ app: record-notice }]
flows:
  record-notice:
    - answer
    - play: { prompt: record-notice }
`;

const { A, B, C } = TONES;

describe('SIPREC recording server (SIPp SRC)', () => {
  let parley: RunningParley;

  before(async () => {
    parley = await startParley(yaml);
  });

  after(async () => {
    await parley?.stop();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    it(`two streams over ${transport.toUpperCase()}: a stem per stream with its tone only, the stereo file left/right by participant, the metadata in the sidecar`, async () => {
      const { meta, peers, sipp, call } = await runSrc(parley, 'siprec-two-streams.xml', { tones: [A, B], transport, group: 'grp-1' });
      // media.threads is auto (the default): the session's room ran in a media thread.
      assert.ok(call.call.room instanceof RemoteMediaRoom, 'the SIPREC room runs in a media thread');
      // The answer: a plain application/sdp body, two recvonly m-lines, each label echoed.
      const ok = sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200/.test(m) && /CSeq: 1 INVITE/.test(m))!;
      assert.match(ok, /Content-Type: application\/sdp/i);
      // RFC 7866 §6.1.1: the SRS's Contact carries +sip.srs, on the address and transport the INVITE came to.
      const contact = /^Contact:(.*)$/im.exec(ok)?.[1] ?? '';
      assert.match(contact, /;\s*\+sip\.srs\b/, `Contact with +sip.srs: ${contact}`);
      assert.match(contact, new RegExp(`<sip:srs@127\\.0\\.0\\.1:${parley.sipPort}${transport === 'tcp' ? ';transport=tcp' : ''}>`), contact);
      assert.equal(ok.match(/^m=audio [1-9]\d* RTP\/AVP/gm)?.length, 2);
      assert.equal(ok.match(/^a=recvonly/gm)?.length, 2);
      assert.match(ok, /a=label:1[\s\S]*a=label:2/);
      // Nothing was sent toward the SRC.
      for (const p of peers) assert.equal(p.received.length, 0, 'no RTP to the SRC');

      const s0 = stemOf(parley, meta, 's0');
      const s1 = stemOf(parley, meta, 's1');
      assert.ok(share(s0.samples, s0.sampleRate, A) > 0.8, 'stream 1 stem holds its tone');
      assert.ok(share(s0.samples, s0.sampleRate, B) < 0.02, 'and not the other');
      assert.ok(share(s1.samples, s1.sampleRate, B) > 0.8);
      assert.ok(share(s1.samples, s1.sampleRate, A) < 0.02);
      const st = wav(parley, meta.stereo!.file);
      const left = channel(st.samples, 2, 0);
      const right = channel(st.samples, 2, 1);
      assert.ok(share(left, st.sampleRate, A) > 0.8 && share(left, st.sampleRate, B) < 0.02, 'left: Alice');
      assert.ok(share(right, st.sampleRate, B) > 0.8 && share(right, st.sampleRate, A) < 0.02, 'right: Bob');
      const mix = wav(parley, meta.mix.file);
      assert.ok(share(mix.samples, mix.sampleRate, A) > 0.2 && share(mix.samples, mix.sampleRate, B) > 0.2, 'the mix holds both');

      const sr = meta.siprec!;
      assert.equal(sr.groupId, 'grp-1');
      assert.equal(sr.dialect, 'rfc7865');
      assert.deepEqual(sr.participants.map((p) => [p.aor, p.name, p.sends, p.stereo]), [
        ['sip:alice@example.com', 'Alice', ['s0'], 'left'],
        ['sip:bob@example.com', 'Bob', ['s1'], 'right'],
      ]);
      assert.deepEqual(sr.streams.map((s) => [s.leg, s.label, s.streamId, s.participant]), [['s0', '1', 'st-1', 'p-alice'], ['s1', '2', 'st-2', 'p-bob']]);
      assert.deepEqual(meta.legs.map((l) => [l.id, l.uri, l.role]), [['s0', 'sip:alice@example.com', 'caller'], ['s1', 'sip:bob@example.com', 'other']]);
      assert.equal(meta.stereo!.left, 's0');
      // The metadata as received, in a file of Parley's naming next to the recording.
      assert.equal(sr.metadataVersions.length, 1);
      const v = sr.metadataVersions[0]!;
      assert.match(v.file, /^siprec-.*\.metadata-1\.xml$/);
      const xml = readFileSync(join(parley.recordingDir, v.file), 'utf8');
      assert.match(xml, /<participant participant_id="p-alice">/);
      assert.equal(sr.problems.length, 0);
    });
  }

  it('one mixed stream without associations: one stem, stereo left', async () => {
    const { meta } = await runSrc(parley, 'siprec-one-stream.xml', { tones: [A] });
    assert.equal(meta.legs.length, 1);
    const s0 = stemOf(parley, meta, 's0');
    assert.ok(share(s0.samples, s0.sampleRate, A) > 0.8);
    assert.deepEqual(meta.siprec!.participants.map((p) => [p.aor, p.sends]), [['sip:alice@example.com', []], ['sip:bob@example.com', []]]);
    assert.equal(meta.siprec!.streams[0]!.label, 'mixed');
  });

  it('three streams: three stems, each its own tone; the stereo file holds the first two participants only', async () => {
    const { meta } = await runSrc(parley, 'siprec-three-streams.xml', { tones: [A, B, C] });
    const tones = [A, B, C];
    ['s0', 's1', 's2'].forEach((id, i) => {
      const w = stemOf(parley, meta, id);
      assert.ok(share(w.samples, w.sampleRate, tones[i]!) > 0.8, `${id} holds ${tones[i]} Hz`);
      for (const other of tones.filter((t) => t !== tones[i])) assert.ok(share(w.samples, w.sampleRate, other) < 0.02, `${id} without ${other} Hz`);
    });
    const st = wav(parley, meta.stereo!.file);
    const right = channel(st.samples, 2, 1);
    assert.ok(share(right, st.sampleRate, B) > 0.8 && share(right, st.sampleRate, C) < 0.02, 'Carol is not in the stereo file');
    assert.equal(meta.siprec!.participants[2]!.stereo, null);
  });

  it('an audio and a video stream, metadata with an external DOCTYPE (XXE): the audio is recorded, the video answered with port 0, the metadata kept as received and its problem noted', async () => {
    const { meta, sipp } = await runSrc(parley, 'siprec-hostile.xml', { tones: [A] });
    const ok = sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200/.test(m) && /CSeq: 1 INVITE/.test(m))!;
    assert.match(ok, /^m=audio [1-9]\d* RTP\/AVP[\s\S]*a=label:1[\s\S]*^m=video 0 RTP\/AVP 96\r?\na=label:2/m);
    assert.deepEqual(meta.legs.map((l) => l.id), ['s0']);
    const s0 = stemOf(parley, meta, 's0');
    assert.ok(share(s0.samples, s0.sampleRate, A) > 0.8);
    const sr = meta.siprec!;
    assert.match(sr.streams[1]!.refused ?? '', /video/);
    assert.match(sr.problems[0] ?? '', /DOCTYPE/);
    assert.equal(sr.participants.length, 0, 'nothing read from a refused document');
    const v = sr.metadataVersions[0]!;
    assert.match(v.problem ?? '', /DOCTYPE/);
    assert.match(readFileSync(join(parley.recordingDir, v.file), 'utf8'), /<!DOCTYPE recording SYSTEM "file:\/\/\/etc\/passwd">[\s\S]*&xxe;/, 'kept as received, never resolved');
  });

  it('bad input: a multipart body cut short gets 400, an offer with nothing recordable 488; no recording is left', async () => {
    const { startSipp } = await import('../helpers/sipp.ts');
    const { SCENARIOS, sippOk } = await import('./helpers.ts');
    for (const scenario of ['siprec-expect-400.xml', 'siprec-expect-488.xml']) {
      const s = await startSipp({
        scenario: join(SCENARIOS, scenario),
        transport: 'udp',
        remote: `127.0.0.1:${parley.sipPort}`,
        calls: 1,
        timeoutS: 20,
        extra: ['-key', 'rtp1', '4000', '-key', 'group', 'g', '-key', 'session', 's', '-key', 'aor1', 'sip:a@b', '-key', 'aor2', 'sip:c@d', '-trace_msg'],
      });
      sippOk(await s.done, scenario);
    }
    assert.equal(parley.app.recordings!.open.size, 0);
    assert.equal(parley.app.media!.roomCount, 0);
    assert.ok(existsSync(parley.recordingDir) || true);
  });
});

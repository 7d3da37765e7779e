// The siprec.* config keys on the wire (SIPp SRC, Node RTP peers, files read back as
// audio), each against what the defaults do in siprec.test.ts: pauseMode (silence
// while recording.pauseMode is skip), maxStreams (a third
// m-line answered with port 0, no third leg), maxMetadataBytes (metadata over the
// limit is not read, the session is recorded anyway), stereo and stems (the files
// left out), enabled (420 Bad Extension, Unsupported: siprec) and sources (403 for
// a source not listed, recorded for one listed).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { startSipp } from '../helpers/sipp.ts';
import { SCENARIOS, sippOk } from './helpers.ts';
import { runSrc, share, SIPREC_ROUTING, stemOf, TONES } from './siprec-helpers.ts';

const rules = SIPREC_ROUTING;
const { A, B, C } = TONES;

async function refused(parley: RunningParley): Promise<string> {
  const s = await startSipp({
    scenario: join(SCENARIOS, 'siprec-expect-refused.xml'),
    transport: 'udp',
    remote: `127.0.0.1:${parley.sipPort}`,
    calls: 1,
    timeoutS: 20,
    extra: ['-key', 'rtp1', '4000', '-key', 'group', 'g', '-key', 'session', 's', '-key', 'aor1', 'sip:a@b', '-key', 'aor2', 'sip:c@d', '-trace_msg'],
  });
  const run = await s.done;
  sippOk(run, 'SRC');
  assert.equal(parley.app.recordings!.open.size, 0, 'nothing recorded');
  assert.equal(parley.app.media!.roomCount, 0, 'no room set up');
  return run.messages.split(/-{10,}/).find((m) => /^SIP\/2\.0 4\d\d /m.test(m)) ?? '';
}

describe('siprec.* config keys (SIPp SRC)', () => {
  const running: RunningParley[] = [];
  const start = async (yaml: string): Promise<RunningParley> => {
    const p = await startParley(rules + yaml);
    running.push(p);
    return p;
  };

  after(async () => {
    for (const p of running) await p.stop();
  });

  it('maxStreams 2, maxMetadataBytes 1024, stereo false: two of three streams recorded (the third answered with port 0), the metadata not read, no stereo file', async () => {
    const parley = await start('siprec: { maxStreams: 2, maxMetadataBytes: 1024, stereo: false }\n');
    const { meta, sipp } = await runSrc(parley, 'siprec-three-streams.xml', { tones: [A, B, C], recorded: 2 });
    const ok = sipp.messages.split(/-{10,}/).find((m) => /SIP\/2\.0 200/.test(m) && /CSeq: 1 INVITE/.test(m))!;
    // RFC 3264 §6: the answer has as many m-lines as the offer; the third is refused.
    const ports = [...ok.matchAll(/^m=audio (\d+) /gm)].map((m) => Number(m[1]));
    assert.equal(ports.length, 3, ok);
    assert.ok(ports[0]! > 0 && ports[1]! > 0);
    assert.equal(ports[2], 0, 'the stream beyond siprec.maxStreams answered with port 0');
    assert.deepEqual(meta.legs.map((l) => l.id), ['s0', 's1']);
    const s0 = stemOf(parley, meta, 's0');
    const s1 = stemOf(parley, meta, 's1');
    assert.ok(share(s0.samples, s0.sampleRate, A) > 0.8);
    assert.ok(share(s1.samples, s1.sampleRate, B) > 0.8);
    assert.equal(meta.stereo, null, 'siprec.stereo false: no stereo file');
    const sr = meta.siprec!;
    assert.match(sr.metadataVersions[0]!.problem ?? '', /larger than 1024 bytes/);
    assert.deepEqual(sr.participants, [], 'metadata over the limit is not read');
    assert.match(sr.streams[2]?.refused ?? '', /maxStreams/);
  });

  it('sources lists 127.0.0.1 and stems false: recorded, without stems', async () => {
    const parley = await start('siprec: { sources: [127.0.0.1/32, "192.0.2.0/24"], stems: false }\n');
    const { meta } = await runSrc(parley, 'siprec-two-streams.xml', { tones: [A, B] });
    assert.deepEqual(meta.legs.map((l) => [l.id, l.stems.length]), [['s0', 0], ['s1', 0]]);
    assert.ok(meta.stereo, 'the stereo file is still written');
    assert.equal(meta.siprec!.participants.length, 2, 'the metadata read (within the default 64 KiB)');
  });

  it('pauseMode silence (recording.pauseMode skip): the SIPREC recording keeps the timeline while every stream is paused', async () => {
    const parley = await start('siprec: { pauseMode: silence }\n');
    assert.equal(parley.config.recording.pauseMode, 'skip');
    const { meta } = await runSrc(parley, 'siprec-pause.xml', { tones: [A, B] });
    assert.equal(meta.pauseMode, 'silence');
    assert.equal(meta.pauses.length, 1, 'every stream paused once (c=0.0.0.0)');
    // 10 s of session, 2 s of it with every stream paused: kept as silence, not left out.
    assert.ok(Math.abs(meta.mix.durationMs - 10_000) <= 400, `mix ${meta.mix.durationMs} ms`);
  });

  it('enabled false: 420 Bad Extension with Unsupported: siprec, nothing set up', async () => {
    const parley = await start('siprec: { enabled: false }\n');
    const final = await refused(parley);
    assert.match(final, /^SIP\/2\.0 420 /m);
    assert.match(final, /^Unsupported:\s*siprec\s*$/im);
  });

  it('sources without the SRC: 403, nothing set up', async () => {
    const parley = await start('siprec: { sources: ["192.0.2.0/24"] }\n');
    const final = await refused(parley);
    assert.match(final, /^SIP\/2\.0 403 /m);
  });
});

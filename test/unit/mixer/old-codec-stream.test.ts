// A leg that re-offers mid-call while its packets of the old payload type are still on
// the way (RFC 3264 §8.3.2: until the answer is in effect the peer may still send the old
// formats): the last ones it sent before it switched arrive after the change. They are
// its audio, decoded with the old codec after what its jitter buffer held
// (old-codec-stream.ts), or, when only the number changed, taken as they are. Checked
// as audio: the old stream a 1000 Hz tone, the new one 600 Hz, each frame's frequency
// read from the leg's frames of the room's ticks (as a recorder gets them).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { G711Encoder } from '../../../src/mixer/codecs/g711-codec.ts';
import type { ParticipantMedia } from '../../../src/mixer/participant-options.ts';
import { RoomMixer } from '../../../src/mixer/room-mixer.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { purity, tone } from '../../helpers/audio-analysis.ts';
import { buildRtp } from '../../helpers/rtp.ts';

const log = createLogger({ level: 'silent', pretty: false });
const media: ParticipantMedia = { codec: 'PCMU', audioPt: 0, dtmfPt: 101, dtmfClock: 8000, sendPt: 0, sendSsrc: 1 };
/** Packets of the old payload type that arrive after the change. */
const IN_FLIGHT = 3;

/**
 * 50 packets of 1000 Hz in PCMU (PT 0), then 50 of 600 Hz after a re-offer to `after` (at the 50th tick), one per
 * tick; the first IN_FLIGHT packets after the re-offer are still the old stream's (PCMU, PT 0, 1000 Hz). The leg's
 * frames, by tick, read as '1' (1000 Hz), '6' (600 Hz) or '.' (neither: silence, concealment).
 */
function run(after: ParticipantMedia, encoder: G711Encoder, counts?: { malformed: number; lost: number }): string {
  const mixer = new RoomMixer({ sampleRate: 8000, jitterMinMs: 40, jitterMaxMs: 100, manualClock: true, log });
  const leg = mixer.createParticipant('s', media, () => undefined);
  mixer.createParticipant('other', { ...media, sendSsrc: 2 }, () => undefined);
  leg.sending = false;
  const frames: Int16Array[] = [];
  mixer.addSink({ writeTick: (t) => void frames.push(Int16Array.from(t.legs.get('s') ?? new Int16Array(160))) });
  const ulaw = new G711Encoder('ulaw');
  const out = new Uint8Array(160);
  let seq = 100;
  for (let i = 0; i < 100; i++) {
    if (i === 50) leg.setMedia(after);
    const old = i < 50 + IN_FLIGHT;
    (old ? ulaw : encoder).encode(tone(old ? 1000 : 600, 8000, 160, 8000, i * 160), out);
    leg.pushRtp(buildRtp({ payloadType: old ? 0 : after.audioPt, ssrc: 0xa, seq: seq++, timestamp: 5000 + i * 160, payload: Buffer.from(out) }), i * 20);
    // `counts`: an empty packet of the old codec among its late ones (its own sequence number).
    if (counts && i === 50) leg.pushRtp(buildRtp({ payloadType: 0, ssrc: 0xa, seq: seq++, timestamp: 5000 + (i + 1) * 160, payload: Buffer.alloc(0) }), i * 20);
    mixer.runTick();
  }
  mixer.playOut();
  if (counts) [counts.malformed, counts.lost] = [leg.malformedPayloads, leg.jitterStats.lost];
  mixer.close();
  return frames
    .map((f) => (purity(f, 8000, 1000) > 0.9 ? '1' : purity(f, 8000, 600) > 0.9 ? '6' : '.'))
    .join('')
    .replace(/^\.+/, '')
    .replace(/\.+$/, '');
}

describe('packets of the old payload type after a re-offer', () => {
  it('a codec change (PCMU → PCMA): the old codec\'s late packets are decoded after its buffered frames, the new stream follows without a gap', () => {
    const heard = run({ ...media, codec: 'PCMA', audioPt: 8, sendPt: 8 }, new G711Encoder('alaw'));
    assert.equal(heard, '1'.repeat(50 + IN_FLIGHT) + '6'.repeat(50 - IN_FLIGHT));
  });

  it('an empty packet of the old codec among its late ones: dropped and counted as an empty audio packet, not taken for a keep-alive; nothing lost or concealed', () => {
    const counts = { malformed: 0, lost: 0 };
    const heard = run({ ...media, codec: 'PCMA', audioPt: 8, sendPt: 8 }, new G711Encoder('alaw'), counts);
    assert.equal(heard, '1'.repeat(50 + IN_FLIGHT) + '6'.repeat(50 - IN_FLIGHT));
    assert.deepEqual(counts, { malformed: 1, lost: 0 });
  });

  it('the same codec renumbered (PCMU as dynamic PT 96): the old number\'s late packets are its audio too', () => {
    const heard = run({ ...media, audioPt: 96 }, new G711Encoder('ulaw'));
    assert.equal(heard, '1'.repeat(50 + IN_FLIGHT) + '6'.repeat(50 - IN_FLIGHT));
  });
});

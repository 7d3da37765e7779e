// RFC 4733 digits relayed between the two parties of a bridge (MixerParticipant.dtmfTo,
// RtpOutput.relayEvent) on a real RoomMixer driven tick by tick: the listener gets the talker's
// telephone-event packets, payload untouched, on its own stream and payload type, while the
// room forwards (the events hold their place in the talker's sequence) and while it mixes
// (they take the next numbers); each event keeps one timestamp, its first packet marked; the
// digit is still reported; a leg not relaying sends none; a listener without telephone-event
// hears the digits as DTMF tones (inband-digits.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DtmfEvent } from '../../../src/dtmf/dtmf-event.ts';
import { G711Decoder } from '../../../src/mixer/codecs/g711-codec.ts';
import { dtmfDigitsIn } from '../../helpers/audio-analysis.ts';
import { DTMF_PT, makeRoom, Phone, STEP, type Room } from '../../helpers/mixer-phones.ts';
import type { RtpPacket } from '../../helpers/rtp.ts';

/** A's phone presses `digit` for 100 ms (event packets instead of audio, the end three times, RFC 4733 §2.5.1), one tick per packet. */
function press(room: Room, a: Phone, digit: string): number {
  const pa = room.parts.get(a)!;
  a.talking = false;
  const eventTs = a.ts;
  for (let k = 1; k <= 5; k++) {
    const end = k === 5;
    for (let r = 0; r < (end ? 3 : 1); r++) pa.pushRtp(a.dtmf(digit, eventTs, end, k * STEP), performance.now());
    a.next();
    room.mixer.runTick();
  }
  a.talking = true;
  return eventTs;
}

const events = (heard: RtpPacket[], pt = DTMF_PT): RtpPacket[] => heard.filter((p) => p.payloadType === pt);

function assertSequence(heard: RtpPacket[], what: string): void {
  for (let i = 1; i < heard.length; i++) assert.equal((heard[i].seq - heard[i - 1].seq) & 0xffff, 1, `${what}: sequence at ${i}: ${heard.map((p) => `${p.seq}/${p.payloadType}`).join(' ')}`);
}

describe('RFC 4733 digits relayed to the other party of a bridge (RoomMixer, manual clock)', () => {
  it('forwarding: the listener gets every event packet, untouched, in the talker\'s place in its stream; one timestamp, the first marked; the digit is still reported', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(21), new Phone(22)];
    const pa = room.join('a', a);
    const pb = room.join('b', b, 0, 96);
    pa.dtmfTo = 'b';
    const digits: DtmfEvent[] = [];
    pa.on('dtmf', (e) => digits.push(e));
    room.run(10);
    assert.equal(room.mixer.stats.mode, 'forward');
    const lastAudio = b.heard.at(-1)!;
    press(room, a, '5');
    room.run(10);
    const ev = events(b.heard, 96);
    assert.equal(ev.length, 7, `seven event packets on b's payload type 96: ${b.heard.map((p) => p.payloadType).join(' ')}`);
    const sent = [...Array(7).keys()].map((i) => (i < 4 ? i + 1 : 5) * STEP);
    assert.deepEqual(ev.map((p) => p.payload.readUInt16BE(2)), sent, 'the durations as sent');
    assert.ok(ev.every((p) => p.payload[0] === 5), 'event 5');
    assert.deepEqual(ev.map((p) => (p.payload[1]! & 0x80) !== 0), [false, false, false, false, true, true, true], 'the end bit as sent');
    assert.equal(new Set(ev.map((p) => p.timestamp)).size, 1, 'one timestamp for the event');
    assert.equal((ev[0]!.timestamp - lastAudio.timestamp) >>> 0, STEP, 'the event starts where the next frame of a would have');
    assert.deepEqual(ev.map((p) => p.marker), [true, false, false, false, false, false, false]);
    assert.equal(new Set(b.heard.map((p) => p.ssrc)).size, 1, 'on b\'s one stream');
    assertSequence(b.heard, 'b');
    assert.deepEqual(digits.map((d) => d.digit), ['5'], 'Parley still takes the digit');
    assert.equal(pb.output.stats.events, 7);
    assert.equal(events(a.heard).length, 0, 'nothing goes back to a');
    room.mixer.close();
  });

  it('mixing (a third leg in the room): the listener it relays to gets the events on the next numbers of its stream, the other listener none', () => {
    const room = makeRoom();
    const [a, b, c] = [new Phone(23), new Phone(24), new Phone(25)];
    const pa = room.join('a', a);
    room.join('b', b);
    room.join('c', c);
    pa.dtmfTo = 'b';
    room.run(10);
    assert.equal(room.mixer.stats.mode, 'mixed');
    const before = b.heard.at(-1)!;
    press(room, a, '7');
    room.run(5);
    const ev = events(b.heard);
    assert.equal(ev.length, 7);
    assert.ok(ev.every((p) => p.payload[0] === 7));
    assert.equal(new Set(ev.map((p) => p.timestamp)).size, 1, 'one timestamp for the event');
    assert.equal((ev[0]!.timestamp - before.timestamp) >>> 0, STEP, 'the timestamp of the frame after the last one sent when it began');
    assert.deepEqual(ev.map((p) => p.marker), [true, false, false, false, false, false, false]);
    assertSequence(b.heard, 'b');
    assert.equal(events(c.heard).length, 0, 'c gets no events');
    room.mixer.close();
  });

  it('a leg that does not relay: no event packet, the stream as before', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(26), new Phone(27)];
    room.join('a', a);
    room.join('b', b);
    room.run(10);
    press(room, a, '1');
    room.run(10);
    assert.ok(b.heard.every((p) => p.payloadType === 0), 'only audio reaches b');
    assertSequence(b.heard, 'b');
    room.mixer.close();
  });

  it('a listener without telephone-event hears the digits as DTMF tones once each event ended, in order; the room mixes meanwhile and forwards again after', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(30), new Phone(31)];
    const pa = room.join('a', a);
    room.join('b', b, 0, null);
    pa.dtmfTo = 'b';
    room.run(10);
    assert.equal(room.mixer.stats.mode, 'forward');
    const from = b.heard.length;
    press(room, a, '1');
    a.talking = false;
    // The tone (100 ms) starts once the end came; the room mixes for it and its 50 ms gap.
    room.run(2);
    assert.equal(room.mixer.stats.mode, 'mixed', 'mixing while the tone plays');
    press(room, a, '#');
    a.talking = false;
    room.run(12);
    assert.equal(room.mixer.stats.mode, 'forward', 'forwarding again after the tones');
    assert.ok(b.heard.every((p) => p.payloadType === 0), 'no event packet (none negotiated)');
    assertSequence(b.heard, 'b');
    const dec = new G711Decoder('ulaw');
    const heard = b.heard.slice(from);
    const pcm = new Int16Array(160 * heard.length);
    heard.forEach((p, i) => dec.decode(p.payload, pcm.subarray(160 * i, 160 * (i + 1))));
    assert.deepEqual(dtmfDigitsIn(pcm, 8000), ['1', '#'], 'a real detector finds 1 then #');
    room.mixer.close();
  });

  it('another telephone-event clock (a 48 kHz Opus leg facing an 8 kHz one): the duration is scaled to the listener\'s', () => {
    const room = makeRoom();
    const [a, b] = [new Phone(28), new Phone(29)];
    const pa = room.join('a', a);
    const pb = room.join('b', b);
    pb.setMedia({ codec: 'PCMU', audioPt: 0, dtmfPt: DTMF_PT, dtmfClock: 48000, dtmfSendPt: 110, sendPt: 0, sendSsrc: 0x7777 });
    pa.dtmfTo = 'b';
    room.run(10);
    press(room, a, '3');
    room.run(5);
    const ev = events(b.heard, 110);
    assert.equal(ev.length, 7);
    assert.deepEqual(ev.map((p) => p.payload.readUInt16BE(2)), [1, 2, 3, 4, 5, 5, 5].map((k) => k * STEP * 6), 'durations at 48 kHz');
    assert.ok(ev.every((p) => p.payload[0] === 3));
    room.mixer.close();
  });
});

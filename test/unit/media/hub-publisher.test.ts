// HubPublisher against a fake room and UDP sockets standing in for the hub's
// transports: what it sends, under which SSRC, PT, sequence and timestamp, and when.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { HubPublisher, type HubInputSink, type HubRoomSide } from '../../../src/media-plane/hub-publisher.ts';
import type { NegotiatedAudio } from '../../../src/media-plane/sdp-types.ts';
import type { CodecName } from '../../../src/mixer/codecs/audio-codec.ts';
import type { MixTick, TickSink } from '../../../src/mixer/frames.ts';
import type { ParticipantMedia } from '../../../src/mixer/mixer-participant.ts';
import { createLogger } from '../../../src/util/logger.ts';
import { buildRtp, parseRtp, type RtpPacket } from '../../helpers/rtp.ts';
import { waitFor } from '../../helpers/wait.ts';

const log = createLogger({ level: 'silent', pretty: false });

function media(codec: CodecName, recvPt: number, dtmfPt: number | null = 101): NegotiatedAudio {
  return {
    codec, sendPt: recvPt, recvPt, dtmf: dtmfPt === null ? null : { sendPt: dtmfPt, recvPt: dtmfPt, clock: 8000 },
    remote: { ip: '127.0.0.1', port: 9, rtcpPort: null, rtcpMux: true }, family: 4, direction: 'sendrecv', remoteSrtp: null, remoteSsrcs: [], peerPts: [], sendPtime: 20, mline: 0, rejected: [],
  };
}

async function udp(): Promise<{ socket: dgram.Socket; port: number; got: RtpPacket[] }> {
  const socket = dgram.createSocket('udp4');
  const got: RtpPacket[] = [];
  socket.on('message', (b) => {
    const p = parseRtp(b);
    if (p) got.push({ ...p, payload: Buffer.from(p.payload) });
  });
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  return { socket, port: socket.address().port, got };
}

class FakeRoom implements HubRoomSide {
  sinks = new Set<TickSink>();
  inputs: { id: string; media: ParticipantMedia; packets: number; closed: boolean; send?: (p: Buffer) => void; sink?: HubInputSink }[] = [];
  addSink(s: TickSink): void {
    this.sinks.add(s);
  }
  removeSink(s: TickSink): void {
    this.sinks.delete(s);
  }
  openHubInput(id: string, m: ParticipantMedia, send?: (p: Buffer) => void): HubInputSink {
    const input: FakeRoom['inputs'][number] = { id, media: m, packets: 0, closed: false, send };
    this.inputs.push(input);
    return (input.sink = {
      pushRtp: () => void input.packets++,
      close: () => void (input.closed = true),
      sending: false,
      muted: false,
      audience: null,
      setMedia: (media: ParticipantMedia) => void (input.media = media),
      on: () => undefined,
    });
  }
}

describe('HubPublisher', () => {
  let ingest: Awaited<ReturnType<typeof udp>>;
  let egress: Awaited<ReturnType<typeof udp>>;
  let pub: HubPublisher;
  let room: FakeRoom;
  let requests: [string, CodecName][];
  beforeEach(async () => {
    ingest = await udp();
    egress = await udp();
    requests = [];
    pub = await HubPublisher.open({ ip: '127.0.0.1', log, requestLeg: (id, c) => void requests.push([id, c]) });
    room = new FakeRoom();
    pub.attach(room);
  });
  afterEach(() => {
    pub.close();
    ingest.socket.close();
    egress.socket.close();
  });
  const start = (): void => pub.start({ ip: '127.0.0.1', port: ingest.port, egressPort: egress.port, mixSsrc: 0xabc, payloadTypes: { opus: 111, PCMU: 0, PCMA: 8, G722: 9 } });
  const rtp = (pt: number, seq: number, ts: number, ssrc: number): Buffer => buildRtp({ payloadType: pt, seq, timestamp: ts, ssrc, payload: Buffer.alloc(160, 0xff) });

  it('sends a leg only once the hub named its stream and something consumes it; rewrites SSRC, PT, sequence and timestamp; an SSRC change continues the stream', async () => {
    const m = media('PCMU', 96);
    pub.legRtp('a', m, rtp(96, 1, 100, 1)); // no hub link yet: nothing
    assert.deepEqual(requests, []);
    start();
    pub.legRtp('a', m, rtp(96, 2, 260, 1));
    assert.deepEqual(requests, [['a', 'PCMU']], 'the first packet asks for a Producer');
    pub.setLeg('a', { codec: 'PCMU', ssrc: 0x1111, pt: 0 });
    pub.legRtp('a', m, rtp(96, 3, 420, 1)); // not consumed: not sent
    pub.setLegConsumed('a', true);
    pub.legRtp('a', m, rtp(96, 4, 580, 1));
    pub.legRtp('a', m, rtp(101, 5, 580, 1)); // telephone-event: not forwarded
    pub.legRtp('a', m, rtp(13, 6, 740, 1)); // CN: not forwarded
    pub.legRtp('a', m, rtp(96, 7, 740, 1));
    pub.legRtp('a', m, rtp(96, 500, 90000, 2)); // the phone restarted its stream
    pub.legRtp('a', m, rtp(96, 501, 90160, 2));
    // One of the old source's the network held back past the change (the endpoint plays it into the mixer's
    // jitter buffer): the hub's stream went on with the new source, so it is not published.
    pub.legRtp('a', m, rtp(96, 6, 580, 1));
    pub.legRtp('a', m, rtp(96, 502, 90320, 2));
    await waitFor('5 packets at the hub', () => ingest.got.length >= 5);
    await new Promise((r) => setImmediate(r));
    const got = ingest.got;
    assert.equal(got.length, 5);
    assert.ok(got.every((p) => p.ssrc === 0x1111 && p.payloadType === 0));
    const seqs = got.map((p) => (p.seq - got[0].seq) & 0xffff);
    const tss = got.map((p) => (p.timestamp - got[0].timestamp) >>> 0);
    assert.deepEqual(seqs, [0, 3, 4, 5, 6], 'gaps kept within a source; the new source follows on');
    assert.deepEqual(tss, [0, 160, 320, 480, 640]);
    assert.equal(got[2].marker, true, 'the new source starts with a marker');
    pub.setLegConsumed('a', false);
    pub.legRtp('a', m, rtp(96, 503, 90480, 2));
    assert.equal(pub.stats.legPackets, 5, 'no consumer: nothing sent');
  });

  it('a new codec asks for a new Producer and sends nothing until it is named; a late answer for the old codec is ignored', () => {
    start();
    pub.legRtp('a', media('PCMU', 0), rtp(0, 1, 0, 1));
    pub.setLeg('a', { codec: 'PCMU', ssrc: 1, pt: 0 });
    pub.setLegConsumed('a', true);
    pub.legRtp('a', media('G722', 9), rtp(9, 2, 160, 1));
    assert.deepEqual(requests, [['a', 'PCMU'], ['a', 'G722']]);
    pub.setLeg('a', { codec: 'PCMU', ssrc: 1, pt: 0 });
    pub.setLegConsumed('a', true);
    pub.legRtp('a', media('G722', 9), rtp(9, 3, 320, 1));
    assert.equal(pub.stats.legPackets, 0);
    pub.setLeg('a', { codec: 'G722', ssrc: 2, pt: 9 });
    pub.setLegConsumed('a', true);
    pub.legRtp('a', media('G722', 9), rtp(9, 4, 480, 1));
    assert.equal(pub.stats.legPackets, 1);
    pub.setLeg('a', null);
    pub.legRtp('a', media('G722', 9), rtp(9, 5, 640, 1));
    assert.equal(requests.length, 3, 'a forgotten leg asks again');
  });

  it('encodes the mix only while it is consumed, as Opus under the chosen SSRC', async () => {
    start();
    assert.equal(room.sinks.size, 1);
    const tick: MixTick = { timeMs: 0, mix: new Int16Array(320), legs: new Map() };
    pub.writeTick(tick);
    assert.equal(pub.stats.mixPackets, 0);
    pub.setMixConsumed(true);
    for (let i = 0; i < 3; i++) pub.writeTick({ ...tick, timeMs: i * 20 });
    await waitFor('3 mix packets', () => ingest.got.length >= 3);
    assert.ok(ingest.got.every((p) => p.ssrc === 0xabc && p.payloadType === 111));
    assert.deepEqual(ingest.got.map((p) => (p.timestamp - ingest.got[0].timestamp) >>> 0), [0, 960, 1920], '48 kHz RTP clock (RFC 7587 §4.1)');
    pub.setMixConsumed(false);
    pub.writeTick(tick);
    assert.equal(pub.stats.mixPackets, 3);
  });

  it('hands consumers\' RTP to room inputs by SSRC, only from the egress transport; close() closes the inputs and leaves the room', async () => {
    start();
    pub.addInput({ id: 'browser', codec: 'opus', ssrc: 0x55, pt: 100 });
    assert.equal(room.inputs[0].media.audioPt, 100);
    const to = pub.local;
    egress.socket.send(rtp(100, 1, 0, 0x55), to.port, to.ip);
    egress.socket.send(rtp(100, 2, 0, 0x66), to.port, to.ip); // unknown SSRC
    ingest.socket.send(rtp(100, 3, 0, 0x55), to.port, to.ip); // wrong source
    await waitFor('3 packets handled', () => pub.stats.inputPackets + pub.stats.unknownSsrc + pub.stats.wrongSource >= 3);
    assert.deepEqual([pub.stats.inputPackets, pub.stats.unknownSsrc, pub.stats.wrongSource], [1, 1, 1]);
    assert.equal(room.inputs[0].packets, 1);
    pub.close();
    pub.close();
    assert.equal(room.inputs[0].closed, true);
    assert.equal(room.sinks.size, 0);
  });

  it("gives an input its own output (a browser's mix-minus) only once the hub names its stream; mutes it and sets who hears it", async () => {
    start();
    pub.addInput({ id: 'web', codec: 'opus', ssrc: 0x77, pt: 100, audience: ['agent'] });
    const input = room.inputs[0];
    assert.equal(input.sink!.sending, false, 'sent nothing before setInputOutput');
    assert.deepEqual([...(input.sink!.audience ?? [])], ['agent'], 'a whisper is heard by its target only');
    input.send!(rtp(111, 1, 0, 0)); // the mixer sends before the hub named the stream: dropped
    pub.setInputOutput('web', { ssrc: 0x9999, pt: 111 });
    assert.equal(input.sink!.sending, true);
    assert.equal(input.media.sendSsrc, 0x9999, "the mixer writes the hub's SSRC");
    assert.equal(input.media.sendPt, 111);
    input.send!(rtp(111, 2, 960, 0x9999));
    await waitFor('the output at the ingest transport', () => ingest.got.length >= 1);
    assert.equal(ingest.got[0].ssrc, 0x9999);
    assert.equal(pub.stats.inputMixPackets, 1);
    pub.updateInput('web', { muted: true, audience: null });
    assert.equal(input.sink!.muted, true);
    assert.equal(input.sink!.audience, null);
    pub.setInputOutput('web', null);
    assert.equal(input.sink!.sending, false, 'the output Producer closed: nothing more is encoded');
    input.send!(rtp(111, 3, 1920, 0x9999));
    assert.equal(pub.stats.inputMixPackets, 1);
  });
});

// Which SSRC is a leg's stream. The port names the leg and any SSRC may come (the peer's
// phone restarts its stream, an SBC re-anchors the media, a transfer behind it), but only
// one is played at a time: every consumer of the leg's packets (the mixer's jitter buffer
// and its splice, the room hub's publisher, RTCP's receiver statistics) starts over, or
// renumbers, at a change of SSRC. So a new SSRC does not take over at its first packet
// (then a second SSRC interleaved with the stream, from a broken phone or from anyone who
// can send from the latched address, flipped the leg between two streams every packet:
// each flip renumbered the mixer's input, and the leg was concealed and garbled). As
// RFC 3550 §A.1's probation does for a new source, a new SSRC's audio takes over after
// MIN_SEQUENTIAL packets with consecutive sequence numbers, in a row: no packet of the
// stream between them (an SSRC interleaved with a stream that goes on never takes it, and
// a flood of SSRCs, each new, never does). The candidate's packets are held meanwhile and
// played first when it takes over, so a genuine change (the old stream stopped) loses
// nothing and is late by MIN_SEQUENTIAL - 1 packets. The first packet sets the stream.
// Packets of another SSRC that are not audio (telephone-event, comfort noise, an empty
// packet: no audio, RFC 6263's keep-alives) pass and change nothing: a gateway may send its
// events from an SSRC of their own (the mixer takes them apart from the stream's).
// What it cannot do: only SRTP tells the peer's packets from a forger's, so one who sends two
// numbered packets in a row from the latched address takes the stream as the peer would (and
// the peer's next two take it back); and a flood that never pauses keeps a genuine new SSRC
// (the old stream stopped) from passing, as it kept a stream from starting before any came.
// Hot path: nothing is allocated per packet (held packets are copied into buffers made
// once); a switch makes MIN_SEQUENTIAL - 1 views.

import { rtpPayloadLength } from '../mixer/rtp.ts';

/** Packets in a row a new SSRC's audio must send, with consecutive sequence numbers, before it is the stream. */
export const MIN_SEQUENTIAL = 2;
/** The largest packet held (the receiver takes none larger). */
const MAX_HELD = 1500;

/** check(): the packet is the stream's (or passes as another SSRC's non-audio): play it. */
export const SSRC_TAKE = 0;
/** check(): a new SSRC on probation: the packet is held (heldCount grew), not played yet. */
export const SSRC_HOLD = 1;
/** check(): the packet's SSRC just became the stream: the held packets play first, then it. */
export const SSRC_SWITCH = 2;

export class SsrcProbation {
  /** The stream's SSRC (-1: no packet yet). */
  ssrc = -1;
  /** The SSRC on probation (-1: none), its last sequence number and its packets in a row. */
  private candidate = -1;
  private candidateSeq = 0;
  private count = 0;
  /** Copies of the candidate's packets (a batch read views a buffer the next batch overwrites, SRTP decrypts into one it reuses). */
  private readonly held: Buffer[] = [];
  private readonly heldSize = new Int32Array(MIN_SEQUENTIAL - 1);
  /** Each held packet's length as received (SRTP: with its tag), for the endpoint's byte count. */
  private readonly heldWire = new Int32Array(MIN_SEQUENTIAL - 1);
  /** Packets held for the candidate (after SSRC_SWITCH: the ones to play first, then 0 once taken). */
  heldCount = 0;

  constructor() {
    const store = Buffer.alloc((MIN_SEQUENTIAL - 1) * MAX_HELD);
    for (let i = 0; i < MIN_SEQUENTIAL - 1; i++) this.held.push(store.subarray(i * MAX_HELD, (i + 1) * MAX_HELD));
  }

  /** `pkt` (well-formed, decrypted; `wireLen` its length as received), `audio`: of the audio payload type. SSRC_TAKE, SSRC_HOLD or SSRC_SWITCH. Hot path. */
  check(pkt: Buffer, wireLen: number, audio: boolean): number {
    const ssrc = ((pkt[8] << 24) | (pkt[9] << 16) | (pkt[10] << 8) | pkt[11]) >>> 0;
    if (ssrc === this.ssrc) {
      // The stream goes on: a candidate's run is broken (its held packets are not played).
      if (this.candidate !== -1) this.dropCandidate();
      return SSRC_TAKE;
    }
    if (this.ssrc === -1) {
      this.ssrc = ssrc;
      return SSRC_TAKE;
    }
    if (!audio || rtpPayloadLength(pkt) <= 0) return SSRC_TAKE;
    const seq = (pkt[2] << 8) | pkt[3];
    if (ssrc !== this.candidate || seq !== ((this.candidateSeq + 1) & 0xffff)) {
      this.dropCandidate();
      this.candidate = ssrc;
    }
    this.candidateSeq = seq;
    if (++this.count >= MIN_SEQUENTIAL) {
      this.ssrc = ssrc;
      this.candidate = -1;
      this.count = 0;
      return SSRC_SWITCH;
    }
    const i = this.heldCount++;
    const len = pkt.length <= MAX_HELD ? pkt.length : MAX_HELD;
    pkt.copy(this.held[i], 0, 0, len);
    this.heldSize[i] = len;
    this.heldWire[i] = wireLen;
    return SSRC_HOLD;
  }

  /** Held packet `i` (after SSRC_SWITCH, oldest first): a view valid until the next check(). */
  heldPacket(i: number): Buffer {
    return this.held[i].subarray(0, this.heldSize[i]);
  }

  heldWireLength(i: number): number {
    return this.heldWire[i];
  }

  /** The held packets were played (after SSRC_SWITCH). */
  releaseHeld(): void {
    this.heldCount = 0;
  }

  /** Forgets the candidate; its held packets are not played (the caller counted them when held). */
  private dropCandidate(): void {
    this.candidate = -1;
    this.count = 0;
    this.heldCount = 0;
  }
}

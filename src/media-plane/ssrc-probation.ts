// Which SSRC is a leg's stream. The port names the leg and any SSRC may come (the peer's
// phone restarts its stream, an SBC re-anchors the media, a transfer behind it), but only
// one is played at a time: every consumer of the leg's packets (the mixer's jitter buffer
// and its splice, the room hub's publisher, RTCP's receiver statistics) starts over, or
// renumbers, at a change of SSRC. So a new SSRC does not take over at its first packet
// (then a second SSRC interleaved with the stream, from a broken phone or from anyone who
// can send from the latched address, flipped the leg between two streams every packet:
// each flip renumbered the mixer's input, and the leg was concealed and garbled). As
// RFC 3550 §A.1's probation does for a new source, a new SSRC's audio takes over after
// MIN_SEQUENTIAL packets in sequence (numbers at most MAX_STEP apart), no packet of the stream between
// them (an SSRC interleaved with a stream that goes on never takes it). The first stream is
// chosen the same way (§A.1 puts every new source on probation): a flood that starts before
// the peer's first packet does not decide it.
// Several SSRCs are on probation at once (CANDIDATES, a fixed array): with one, each packet
// of a flood of new SSRCs from the latched address (one packet each) replaced it, and a
// genuine new stream (the old one stopped) never passed while the flood went on. A new SSRC
// takes a free place, else a place chosen at random (a flood cannot tell which is the
// genuine stream's, nor keep it out for sure: it takes over at its second packet unless
// one of the flood's packets between the two took its place, 1 in CANDIDATES for each).
// The candidates' packets are held meanwhile and the one that takes over plays its own
// first, so a genuine change (the old stream stopped) loses nothing and is late by
// MIN_SEQUENTIAL - 1 packets. Packets of another SSRC that are not audio
// (telephone-event, comfort noise, an empty packet: no audio, RFC 6263's keep-alives) pass
// and change nothing: a gateway may send its events from an SSRC of their own (the mixer
// takes them apart from the stream's).
// What it cannot do: only SRTP tells the peer's packets from a forger's, so one who sends two
// numbered packets in a row from the latched address takes the stream as the peer would (and
// the peer's next two take it back); a flood of many packets between each two of a new
// stream's delays its takeover (it passes once no flood packet took its place in between).
// Hot path: nothing is allocated per packet (held packets are copied into one buffer made at
// the first candidate); a switch makes MIN_SEQUENTIAL - 1 views.

import { rtpPayloadLength } from '../mixer/rtp.ts';

/** Packets a new SSRC's audio must send in sequence (see MAX_STEP), none of the stream's between, before it is the stream. */
export const MIN_SEQUENTIAL = 2;
/**
 * How far apart two of a candidate's packets may be numbered and still count as in sequence: §A.1 asks for
 * consecutive numbers, but a network that reorders swaps a stream's first two as readily as any two (then the first
 * stream never passed), and a packet may be lost; an SSRC sending random numbers falls this close 1 time in 10,000.
 */
const MAX_STEP = 3;
/** How far behind the replaced stream's newest packet one of its packets that comes after the change is taken as held back by the network (about a second of 20 ms packets). */
const LATE_WINDOW = 64;
/** SSRCs on probation at once. */
export const CANDIDATES = 8;
/** Packets held per candidate. */
const HELD_PER = MIN_SEQUENTIAL - 1;
/** The largest packet held (the receiver takes none larger). */
const MAX_HELD = 1500;

/** check(): the packet is the stream's (or passes as another SSRC's non-audio): play it. */
export const SSRC_TAKE = 0;
/** check(): a new SSRC on probation: the packet is held (heldTotal grew), not played yet. */
export const SSRC_HOLD = 1;
/** check(): the packet's SSRC just became the stream: the held packets play first (heldCount of them), then it. */
export const SSRC_SWITCH = 2;

export class SsrcProbation {
  /** The stream's SSRC (-1: none yet). */
  ssrc = -1;
  /** The stream's newest sequence number; the stream before the last change and its newest (-1: none). */
  private top = 0;
  private prevSsrc = -1;
  private prevTop = 0;
  /** The candidates: SSRC, last sequence number, packets in a row (0: the place is free). */
  private readonly candSsrc = new Uint32Array(CANDIDATES);
  private readonly candSeq = new Int32Array(CANDIDATES);
  private readonly candCount = new Int32Array(CANDIDATES);
  /** Places taken. */
  private live = 0;
  /** xorshift32 state: which place a new SSRC takes when none is free. */
  private rand = (Math.random() * 0xffffffff) >>> 0 || 1;
  /** Copies of the candidates' packets (a batch read views a buffer the next batch overwrites, SRTP decrypts into one it reuses); made at the first candidate. */
  private held: Buffer[] | null = null;
  private readonly heldSize = new Int32Array(CANDIDATES * HELD_PER);
  /** Each held packet's length as received (SRTP: with its tag), for the endpoint's byte count. */
  private readonly heldWire = new Int32Array(CANDIDATES * HELD_PER);
  /** After SSRC_SWITCH: the held packets to play first (then 0 once taken), from heldBase. */
  heldCount = 0;
  private heldBase = 0;
  /** Packets held by all candidates (counted as dropped by the caller until theirs takes over). */
  heldTotal = 0;

  /** `seed`: for tests, the random choice of a place made repeatable. */
  constructor(seed?: number) {
    if (seed !== undefined) this.rand = seed >>> 0 || 1;
  }

  /** `pkt` (well-formed, decrypted; `wireLen` its length as received), `audio`: of the audio payload type. SSRC_TAKE, SSRC_HOLD or SSRC_SWITCH. Hot path. */
  check(pkt: Buffer, wireLen: number, audio: boolean): number {
    const ssrc = ((pkt[8] << 24) | (pkt[9] << 16) | (pkt[10] << 8) | pkt[11]) >>> 0;
    const seq = (pkt[2] << 8) | pkt[3];
    if (ssrc === this.ssrc) {
      // The stream goes on: every candidate's run is broken (their held packets are not played).
      if (this.live !== 0) this.dropAll();
      if (((((seq - this.top) & 0xffff) << 16) >> 16) > 0) this.top = seq;
      return SSRC_TAKE;
    }
    if (!audio || rtpPayloadLength(pkt) <= 0) return SSRC_TAKE;
    // The stream before the last change, numbered at or before its newest: a packet of it the network held back
    // past the change (RFC 3550 §A.1 reordering). It plays in its place, before the change, if the jitter
    // buffer has not played past it (else that counts it late); after its newest, it is the old stream
    // going on beside the new one (or, further behind, restarted): on probation as any other SSRC.
    if (ssrc === this.prevSsrc) {
      const behind = (((this.prevTop - seq) & 0xffff) << 16) >> 16;
      if (behind >= 0 && behind <= LATE_WINDOW) return SSRC_TAKE;
    }
    let c = this.find(ssrc);
    const d = c >= 0 ? (((seq - this.candSeq[c]) & 0xffff) << 16) >> 16 : 0;
    if (c >= 0 && (d === 0 || d > MAX_STEP || d < -MAX_STEP)) this.free(c); // not in sequence: it starts over, in its place
    else if (c < 0) c = this.place();
    this.candSsrc[c] = ssrc;
    if (this.candCount[c] === 0 || d > 0) this.candSeq[c] = seq;
    if (this.candCount[c]++ === 0) this.live++;
    if (this.candCount[c] >= MIN_SEQUENTIAL) {
      this.prevSsrc = this.ssrc;
      this.prevTop = this.top;
      this.ssrc = ssrc;
      // The newest of the new stream so far (its held packets may be either side of this one).
      this.top = d < 0 ? this.candSeq[c] : seq;
      this.heldBase = c * HELD_PER;
      this.heldCount = this.candCount[c] - 1;
      // The others' runs end with the stream's change (their held packets stay dropped).
      this.dropAll();
      return SSRC_SWITCH;
    }
    if (this.held === null) {
      const store = Buffer.alloc(CANDIDATES * HELD_PER * MAX_HELD);
      this.held = [];
      for (let i = 0; i < CANDIDATES * HELD_PER; i++) this.held.push(store.subarray(i * MAX_HELD, (i + 1) * MAX_HELD));
    }
    const i = c * HELD_PER + this.candCount[c] - 1;
    const len = pkt.length <= MAX_HELD ? pkt.length : MAX_HELD;
    pkt.copy(this.held[i], 0, 0, len);
    this.heldSize[i] = len;
    this.heldWire[i] = wireLen;
    this.heldTotal++;
    return SSRC_HOLD;
  }

  /** Held packet `i` (after SSRC_SWITCH, oldest first): a view valid until the next check(). */
  heldPacket(i: number): Buffer {
    return this.held![this.heldBase + i].subarray(0, this.heldSize[this.heldBase + i]);
  }

  heldWireLength(i: number): number {
    return this.heldWire[this.heldBase + i];
  }

  /** The held packets were played (after SSRC_SWITCH). */
  releaseHeld(): void {
    this.heldCount = 0;
  }

  /** The candidate's place for `ssrc`, or -1. */
  private find(ssrc: number): number {
    if (this.live === 0) return -1;
    for (let c = 0; c < CANDIDATES; c++) if (this.candCount[c] !== 0 && this.candSsrc[c] === ssrc) return c;
    return -1;
  }

  /** A place for a new candidate: a free one, else one at random (its candidate forgotten). */
  private place(): number {
    if (this.live < CANDIDATES) for (let c = 0; c < CANDIDATES; c++) if (this.candCount[c] === 0) return c;
    let x = this.rand;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rand = x >>> 0;
    const c = this.rand % CANDIDATES;
    this.free(c);
    return c;
  }

  /** Forgets candidate `c`; its held packets are not played (the caller counted them when held). */
  private free(c: number): void {
    if (this.candCount[c] === 0) return;
    this.heldTotal -= this.candCount[c];
    this.candCount[c] = 0;
    this.live--;
  }

  /** Forgets every candidate. */
  private dropAll(): void {
    this.candCount.fill(0);
    this.live = 0;
    this.heldTotal = 0;
  }
}

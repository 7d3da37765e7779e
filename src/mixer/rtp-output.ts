// One listener's outgoing RTP stream (RFC 3550 §5.1): one SSRC, one sequence,
// one timeline, whichever path fills it. The mixer sends it encoded frames
// (sendFrame, at most one per tick of room time); in a two-party call the other
// leg's packets are forwarded into it (forward), their sequence numbers and
// timestamps shifted onto this stream. Both paths share this state, so a switch
// either way neither jumps nor repeats.
//
// Timestamps follow room time: a frame's timestamp is the last packet's plus one
// frame's worth per 20 ms of room time between them. After a hold (nothing
// sent) the timestamp has jumped by the time elapsed, and the packet carries the
// marker bit (RFC 3551 §4.1: the first packet after a silence period), so the
// peer's jitter buffer resynchronises instead of replaying the gap as late audio.
//
// A listener that asked for packets of other than 20 ms (a=ptime:30 from a phone, or in
// a callee's answer; G.711 and G.722 only, one byte per clock tick) gets the mixer's
// frames gathered and cut into packets of that length, each stamped with the timestamp
// of its first byte (such a listener is never forwarded to: TwoPartyForwarder).
import { FRAME_MS } from './frames.ts';
import { seqDiff } from './jitter-buffer.ts';
import { writeRtpHeader } from './rtp.ts';

/**
 * A forwarded stream last heard fewer frames ago than this is live (a gap is
 * jitter); one silent this long has paused (silence suppression, a stall).
 */
const LIVE_FRAMES = 3;
/** A forwarded input whose sequence number moves this far at once restarted: it is mapped afresh. */
const RESTART_SEQ_JUMP = 3000;
/** Room for a 60 ms packet of G.711 or G.722 and the frame that completes it. */
const MAX_GATHERED = 480 + 160;

export interface RtpOutputStats {
  /** Packets the mixer encoded and sent. */
  mixed: number;
  /** Packets forwarded from the other leg of a two-party call. */
  forwarded: number;
  /** Telephone-event packets sent by relayEvent: relayed from the other leg of a bridge, or made from a SIP INFO digit. */
  events: number;
}

/**
 * Sends one packet; returns false when the transport is done with it (sent at
 * once, or dropped), so the next packet may be written into the same buffer.
 * Anything else (true, or nothing returned) means it may still be held.
 */
export type PacketSend = (packet: Buffer) => boolean | void;

/** An input mapped onto the output stream: input (ssrc, seq, ts) + offsets = output. */
interface InputMapping {
  ssrc: number | null;
  seqOff: number;
  tsOff: number;
  /** Newest input sequence number mapped (forwarded, or dropped on purpose). */
  top: number;
  /** Input older than this is not forwarded: it predates the mapping, or its output number was given away. */
  floor: number;
  /** Bit k: input top - k was forwarded (or dropped on purpose); for the packets that come after a hand-back (forwardLate). */
  heardBits: number;
}

function newMapping(): InputMapping {
  return { ssrc: null, seqOff: 0, tsOff: 0, top: 0, floor: 0, heardBits: 0 };
}

function copyMapping(to: InputMapping, from: InputMapping): void {
  to.ssrc = from.ssrc;
  to.seqOff = from.seqOff;
  to.tsOff = from.tsOff;
  to.top = from.top;
  to.floor = from.floor;
  to.heardBits = from.heardBits;
}

export class RtpOutput {
  readonly stats: RtpOutputStats = { mixed: 0, forwarded: 0, events: 0 };
  /** Sequence number of the next packet. */
  private seq = Math.floor(Math.random() * 0x10000);
  /** Timestamp of the newest packet sent (random before the first). */
  private lastTs = Math.floor(Math.random() * 0x100000000) >>> 0;
  /** The tick of room time the newest packet's frame belongs to; null before the first. */
  private lastTick: number | null = null;
  private marker = true;
  private step: number;
  /** Between beginForward and endForward. */
  private forwarding = false;
  /** While forwarding, the mixer filled in for a paused input: it goes on doing so until the input is back. */
  private filling = false;
  /** Forwarding: the input mapped onto this stream now (ssrc null: map on the next packet). */
  private readonly live: InputMapping = newMapping();
  /** After endForward: the mapping that ended, for its input's packets that come too late (forwardLate); ssrc null: none. */
  private readonly late: InputMapping = newMapping();
  /** The last packet's buffer, when the transport released it: the next one of the same size is written into it. */
  private spare: Buffer | null = null;
  /** Bytes per packet for a listener that wants other than 20 ms (0: one frame per packet), and the bytes gathered for it. */
  private packetBytes = 0;
  private gathered: Uint8Array | null = null;
  private gatheredLen = 0;
  private gatheredTs = 0;
  private gatheredMarker = false;
  /** The telephone-event being relayed (relayEvent): its input's SSRC and timestamp, and its timestamp on this stream. */
  private evSsrc = -1;
  private evIn = -1;
  private evOut = 0;

  constructor(
    private readonly send: PacketSend,
    private pt: number,
    private ssrc: number,
    clockRate: number,
    packetMs = FRAME_MS,
  ) {
    this.step = clockRate / (1000 / FRAME_MS);
    this.setPacketMs(packetMs);
  }

  /** Re-offer: payload type, SSRC, clock or packet length changed. The sequence and timeline carry on. */
  setMedia(pt: number, ssrc: number, clockRate: number, packetMs = FRAME_MS): void {
    this.pt = pt;
    this.ssrc = ssrc;
    this.step = clockRate / (1000 / FRAME_MS);
    this.setPacketMs(packetMs);
  }

  /** Packets of `ms` (10..60 ms of G.711 or G.722; the caller checks the codec); bytes gathered for the old length are dropped. */
  private setPacketMs(ms: number): void {
    this.packetBytes = ms === FRAME_MS ? 0 : ms * 8;
    this.gatheredLen = 0;
    if (this.packetBytes !== 0) this.gathered ??= new Uint8Array(MAX_GATHERED);
  }

  /** Sends one encoded frame of the mix for the tick at room time `tickMs`. */
  sendFrame(payload: Uint8Array, tickMs: number): void {
    const frames = this.lastTick === null ? 1 : (tickMs - this.lastTick) / FRAME_MS;
    // More than one frame since the last packet: a hold, or ticks the clock skipped.
    if (frames > 1) this.marker = true;
    const ts = (this.lastTs + Math.max(1, frames) * this.step) >>> 0;
    if (this.packetBytes !== 0) this.gather(payload, ts, frames > 1);
    else {
      const packet = this.buffer(12 + payload.length);
      writeRtpHeader(packet, this.pt, this.marker, this.seq, ts, this.ssrc);
      packet.set(payload, 12);
      this.seq = (this.seq + 1) & 0xffff;
      this.stats.mixed++;
      this.spare = this.send(packet) === false ? packet : null;
    }
    this.lastTs = ts;
    this.lastTick = tickMs;
    this.marker = false;
    // Numbers were given out beside any forwarding mapping: the next forwarded packet is mapped afresh.
    this.live.ssrc = null;
    this.filling = this.forwarding;
  }

  /** Adds a frame (timestamp `ts`) to the bytes gathered and sends every whole packet; after a gap what was gathered goes first, short. */
  private gather(payload: Uint8Array, ts: number, gap: boolean): void {
    const g = this.gathered!;
    if (gap && this.gatheredLen > 0) this.sendGathered(this.gatheredLen);
    if (this.gatheredLen === 0) {
      this.gatheredTs = ts;
      this.gatheredMarker = this.marker;
    }
    g.set(payload, this.gatheredLen);
    this.gatheredLen += payload.length;
    while (this.gatheredLen >= this.packetBytes) this.sendGathered(this.packetBytes);
  }

  /** Sends the first `len` gathered bytes as one packet. */
  private sendGathered(len: number): void {
    const g = this.gathered!;
    const packet = this.buffer(12 + len);
    writeRtpHeader(packet, this.pt, this.gatheredMarker, this.seq, this.gatheredTs, this.ssrc);
    for (let i = 0; i < len; i++) packet[12 + i] = g[i];
    g.copyWithin(0, len, this.gatheredLen);
    this.gatheredLen -= len;
    this.gatheredTs = (this.gatheredTs + len) >>> 0;
    this.gatheredMarker = false;
    this.seq = (this.seq + 1) & 0xffff;
    this.stats.mixed++;
    this.spare = this.send(packet) === false ? packet : null;
  }

  /**
   * Forwarding starts. `played`: the input frame the last packet sent carried
   * (mixed in): the input is mapped so that the frames after it follow that
   * packet, whenever they arrive. Without it the next input packet is mapped
   * to follow the last packet sent, by room time. `paused`: the input is silent
   * now, so the mixer goes on filling in until it is back (pausedAt).
   */
  beginForward(played: { ssrc: number; seq: number; ts: number } | null, paused: boolean): void {
    this.live.ssrc = null;
    if (played && this.lastTick !== null) {
      this.live.ssrc = played.ssrc;
      this.live.seqOff = (this.seq - 1 - played.seq) & 0xffff;
      this.live.tsOff = (this.lastTs - played.ts) >>> 0;
      this.live.top = played.seq;
      this.live.floor = (played.seq + 1) & 0xffff;
      this.live.heardBits = 1;
    }
    this.late.ssrc = null;
    this.forwarding = true;
    this.filling = paused;
  }

  /**
   * Forwards one packet of the other leg (its audio payload), arriving after the
   * tick at room time `tickMs`: the frame it carries belongs to the next tick.
   * False when it was not sent (a duplicate, or older than this stream's mapping).
   */
  forward(ssrc: number, seq: number, timestamp: number, marker: boolean, payload: Uint8Array, tickMs: number, overtook = false): boolean {
    let d = ssrc === this.live.ssrc ? seqDiff(seq, this.live.top) : 0;
    if (ssrc !== this.live.ssrc || Math.abs(d) > RESTART_SEQ_JUMP) {
      this.map(ssrc, seq, timestamp, tickMs, overtook);
      d = 1;
    } else if (d === 0 || seqDiff(seq, this.live.floor) < 0) {
      // A duplicate of the newest, or older than what this stream already carries.
      return false;
    }
    const outSeq = (seq + this.live.seqOff) & 0xffff;
    const outTs = (timestamp + this.live.tsOff) >>> 0;
    const packet = this.buffer(12 + payload.length);
    writeRtpHeader(packet, this.pt, marker || this.marker, outSeq, outTs, this.ssrc);
    packet.set(payload, 12);
    this.marker = false;
    this.filling = false;
    this.heard(d);
    if (d > 0) {
      // The newest so far (a reordered older one changes nothing).
      this.live.top = seq;
      this.seq = (outSeq + 1) & 0xffff;
      this.lastTs = outTs;
      this.lastTick = tickMs + FRAME_MS;
    }
    this.stats.forwarded++;
    this.spare = this.send(packet) === false ? packet : null;
    return true;
  }

  /** Input `d` numbers after live.top (before it: d < 0) went out: live.heardBits follows (before live.top moves to it, when d > 0). */
  private heard(d: number): void {
    if (d > 0) this.live.heardBits = d < 32 ? ((this.live.heardBits << d) | 1) >>> 0 : 1;
    else if (-d < 32) this.live.heardBits = (this.live.heardBits | (1 << -d)) >>> 0;
  }

  /**
   * After a hand-back (endForward), a packet of the input that was forwarded, older than the newest one this
   * listener got and never sent to it (a network that reorders: it came after the switch): it goes out at once
   * on the number and timestamp the forwarding kept for it, a hole in the stream filled, as the other packets
   * of the forwarding went (the listener's jitter buffer places it). False when not sent (not such a packet).
   */
  forwardLate(ssrc: number, seq: number, timestamp: number, payload: Uint8Array): boolean {
    if (ssrc !== this.late.ssrc) return false;
    const age = seqDiff(this.late.top, seq);
    if (age <= 0 || age >= 32 || seqDiff(seq, this.late.floor) < 0 || (this.late.heardBits & (1 << age)) !== 0) return false;
    this.late.heardBits = (this.late.heardBits | (1 << age)) >>> 0;
    const packet = this.buffer(12 + payload.length);
    writeRtpHeader(packet, this.pt, false, (seq + this.late.seqOff) & 0xffff, (timestamp + this.late.tsOff) >>> 0, this.ssrc);
    packet.set(payload, 12);
    this.stats.forwarded++;
    this.spare = this.send(packet) === false ? packet : null;
    return true;
  }

  /** A buffer for the next packet: the spare one when it has the size (a steady codec's packets all do). */
  private buffer(size: number): Buffer {
    const spare = this.spare;
    if (spare !== null && spare.length === size) return spare;
    return Buffer.allocUnsafe(size);
  }

  /**
   * A packet of the forwarded input that is not forwarded (telephone-event,
   * comfort noise, an empty packet): the output skips no sequence number for it,
   * since a gap would read as a loss (RFC 3550 §A.3). One older than the newest
   * forwarded (it came after the packet after it) was left its number already: an
   * empty packet goes out on it (as the talker sent one there), so the listener's
   * stream has no hole.
   */
  dropInput(ssrc: number, seq: number, timestamp: number): void {
    if (ssrc !== this.live.ssrc) return;
    const d = seqDiff(seq, this.live.top);
    if (d < 0) {
      if (-d >= 32 || seqDiff(seq, this.live.floor) < 0 || (this.live.heardBits & (1 << -d)) !== 0) return;
      this.heard(d);
      const packet = this.buffer(12);
      writeRtpHeader(packet, this.pt, false, (seq + this.live.seqOff) & 0xffff, (timestamp + this.live.tsOff) >>> 0, this.ssrc);
      this.spare = this.send(packet) === false ? packet : null;
      return;
    }
    if (d === 0 || d > RESTART_SEQ_JUMP) return;
    this.heard(d);
    this.live.top = seq;
    this.live.seqOff = (this.live.seqOff - 1) & 0xffff;
    // Older input would now map onto numbers already sent.
    this.live.floor = (seq + 1) & 0xffff;
    // What follows starts a talkspurt after the left-out packets (RFC 3551 §4.1).
    this.marker = true;
  }

  /** Whether nothing was sent for the frames before the tick at `tickMs` (or ever): the forwarded stream paused. */
  pausedAt(tickMs: number): boolean {
    return this.lastTick === null || this.filling || tickMs - this.lastTick >= LIVE_FRAMES * FRAME_MS;
  }

  /** Whether the newest packet sent carries the frame of the tick at `tickMs` (or a later one). */
  covers(tickMs: number): boolean {
    return this.lastTick !== null && this.lastTick >= tickMs;
  }

  /**
   * Relays one telephone-event packet (RFC 4733) of the other leg of a bridge onto this stream,
   * with this listener's telephone-event payload type `pt`, the payload (event, end bit, volume,
   * duration) untouched. While this stream forwards that leg, the packet is mapped as its audio is
   * (it holds its place in that leg's sequence: RFC 4733 §2.1); otherwise it takes the next
   * sequence number. Every packet of one event (one input timestamp) carries the same timestamp
   * here: the mapped one, or the next frame's when the event began; its first has the marker
   * (§2.5.1.1). False when not sent: a duplicate, or older than the forwarding mapping.
   */
  relayEvent(ssrc: number, seq: number, timestamp: number, payload: Uint8Array, pt: number): boolean {
    const mapped = this.forwarding && ssrc === this.live.ssrc;
    let outSeq: number;
    if (mapped) {
      const d = seqDiff(seq, this.live.top);
      if (d === 0 || Math.abs(d) > RESTART_SEQ_JUMP || seqDiff(seq, this.live.floor) < 0) return false;
      outSeq = (seq + this.live.seqOff) & 0xffff;
      if (d > 0) {
        this.live.top = seq;
        this.seq = (outSeq + 1) & 0xffff;
      }
    } else {
      outSeq = this.seq;
      this.seq = (this.seq + 1) & 0xffff;
      // A number given out beside any forwarding mapping: the next forwarded packet is mapped afresh.
      this.live.ssrc = null;
    }
    const first = ssrc !== this.evSsrc || timestamp !== this.evIn;
    if (first) {
      this.evSsrc = ssrc;
      this.evIn = timestamp;
      this.evOut = mapped ? (timestamp + this.live.tsOff) >>> 0 : this.lastTick === null ? this.lastTs : (this.lastTs + this.step) >>> 0;
    }
    const packet = this.buffer(12 + payload.length);
    writeRtpHeader(packet, pt, first, outSeq, this.evOut, this.ssrc);
    packet.set(payload, 12);
    this.stats.events++;
    this.spare = this.send(packet) === false ? packet : null;
    return true;
  }

  /** The newest input sequence number this stream forwarded (the mixer must not play what came before it again), or null. */
  get lastForwarded(): number | null {
    return this.live.ssrc === null ? null : this.live.top;
  }

  /**
   * Forwarding ends; the mix takes over from the tick at `tickMs` (or the next
   * one, when this stream covers that tick already, or when `playsNow`: the
   * frame that tick plays is the last one forwarded).
   */
  endForward(tickMs: number, playsNow = false): void {
    copyMapping(this.late, this.live);
    this.live.ssrc = null;
    this.forwarding = false;
    this.filling = false;
    // A stream heard a frame or two ago was live (the gap is jitter): the mix
    // continues it one frame on. After a pause the timestamp jumps (sendFrame).
    if (this.lastTick !== null && this.lastTick < tickMs && (tickMs - this.lastTick) / FRAME_MS <= LIVE_FRAMES) this.lastTick = playsNow ? tickMs : tickMs - FRAME_MS;
  }

  /**
   * Nothing goes out for the tick at `tickMs`, and the timeline does not move on: the next frame
   * follows the last packet sent, a frame later (no marker), however much later it goes out. After a
   * hand-back from forwarding the mix waits so for the other leg's late packets while its jitter
   * buffer regains its depth (TwoPartyForwarder.slips): this listener's own jitter buffer takes up the
   * delay, as it took up the same packets' jitter while they were forwarded.
   */
  slip(tickMs: number): void {
    if (this.lastTick !== null) this.lastTick = tickMs;
  }

  /**
   * Maps a (new) input onto this stream: its packet follows the last one sent, the timestamp advanced by the room
   * time between them. `overtook`: the input's number before it has not come yet (it overtook that packet, or that
   * one was lost): a number and a frame are kept for it, so the first pair of a mapping arriving swapped does not
   * lose its older packet, too old for the mapping (if it never comes, its hole is the talker's loss).
   */
  private map(ssrc: number, seq: number, timestamp: number, tickMs: number, overtook: boolean): void {
    const frames = this.lastTick === null ? 1 : Math.max(1, (tickMs + FRAME_MS - this.lastTick) / FRAME_MS);
    const before = overtook ? 1 : 0;
    const ts = (this.lastTs + (frames + before) * this.step) >>> 0;
    this.live.ssrc = ssrc;
    this.live.seqOff = (this.seq + before - seq) & 0xffff;
    this.live.tsOff = (ts - timestamp) >>> 0;
    this.live.top = (seq - 1) & 0xffff;
    this.live.floor = (seq - before) & 0xffff;
    this.live.heardBits = 0;
    if (frames > 1) this.marker = true;
  }
}

// A room of two legs where nothing else plays (no prompt, no whisper, nobody
// muted, deaf, hidden or coached, both on a same-codec call, both sending and
// receiving, both taking 20 ms packets: a listener that asked for another a=ptime
// gets the mixer's frames gathered by its RtpOutput; an Opus leg sending other than 20 ms
// packets is split onto the mixer's grid, and its peer, who may not take that length
// (RFC 7587 §6.1 a=maxptime; Parley answers a=ptime:20), gets the mixer's 20 ms packets
// instead) needs no mixing: each leg's packets go on to the other at once,
// the payload untouched, the header rewritten onto the listener's own stream
// (RtpOutput). The room still decodes every leg each tick (talk and in-band
// DTMF detection, recorders), but skips the per-listener mix-minus, limiter and
// encoder, and the forwarded audio skips the jitter buffer's delay.
// Telephone-event packets are not forwarded here (Parley takes the digits; in a
// bridge a leg may relay them to the other, mixed or forwarded alike:
// MixerParticipant.dtmfTo, RtpOutput.relayEvent), nor is comfort noise
// (Parley does not negotiate it), nor empty packets (their numbers close up: stream-splice.ts), but for
// one that came after the packet after it: its number, kept, gets an empty packet (RtpOutput.dropInput),
// not a hole the listener would take for a loss. While one leg sends nothing (silence
// suppression, a digit, a stall) the other gets encoded silence from the tick
// after three frames, as from a mixed room, so its stream never stops (but not
// in the catch-up ticks of a stalled thread when they run before the packets that
// queued meanwhile are read: a leg live at the first of them is not paused, its
// packets come late, on the same timeline; RoomMixer). A packet counts as arriving
// after the latest tick due when the thread read it, run or not (packet): after a
// stall the sockets may be read before the catch-up ticks run, and a packet then
// stamped with the last tick run made the forwarded stream look frames older than
// it was, so a tick or two after the catch-up the talker, on time, passed for
// paused and the listener got a silent frame in the middle of its audio. Legs on
// different codecs stay mixed (mixing two legs is that transcoding).
//
// Switches happen on the room's ticks. Mixed → forwarded at the end of a tick:
// the other leg's input is lined up with the frame of it this tick mixed, what
// its jitter buffer still holds goes to the listener at once, the rest follows
// as it arrives. Forwarded → mixed at the start of a tick (a prompt, a whisper,
// a role change, a third leg): each listener has already heard the newest
// packet of the other leg, so that leg's jitter buffer drops what came before
// it (those frames are then missing from its recording too: none with a steady
// one-frame buffer, the buffer's depth beyond one frame otherwise); a leg whose
// forwarded stream already carries this tick's frame, or whose newest forwarded
// frame is the one this tick plays (it came in a burst and still waits in the
// buffer), gets nothing this tick (prompts then wait a tick, so both hear them
// from the first frame), and the mix goes on one frame after the last
// forwarded packet: no frame twice, none left out. Dropping what was heard
// leaves the other leg's buffer all but empty: its next packets, as late as the
// network's jitter makes them, used to find it underrun, and the listener got a
// frame concealed, then silence, one frame per frame of depth the buffer had to
// regain. Instead, while it regains it (slips: until a frame plays with the
// buffer at its target depth, at most its deepest), a tick with no new frame of
// the other leg sends this listener nothing and holds its timeline
// (RtpOutput.slip): the next mixed frame follows the last packet a frame later,
// late as the forwarded packets were, and the listener's own jitter buffer
// takes up the delay. (Prompts wait a tick then too; a third leg's first frames
// during a slip are not heard by that listener.) On a network that reorders, a
// packet may come just after the switch although the listener already got the
// one after it: the jitter buffer refuses it as late, and it goes to the listener
// then, on the number the forwarding kept for it (late; RtpOutput.forwardLate),
// not left a hole in its stream; one missing while the next is here waits a tick
// (waitsFor), as a late one does. A packet mapped afresh (after a pause the mixer filled in, a
// new source) that came before the talker's number before it keeps that number free for it
// (RtpOutput.map): a first pair arriving swapped loses neither.
import { FRAME_MS } from './frames.ts';
import type { MixerParticipant } from './mixer-participant.ts';

/** Slips at most after a hand-back: the deepest a jitter buffer goes (media.mixer.jitterMaxMs at most 100 ms). */
const MAX_SLIPS = 5;

export type RoomMode = 'mixed' | 'forward';

export interface TwoPartyStats {
  mode: RoomMode;
  /** Packets forwarded leg to leg (both directions). */
  forwarded: number;
  /** Ticks run while forwarding (no mix-minus, limiter or encoder ran). */
  forwardTicks: number;
  /** Switches from mixing to forwarding, and back. */
  toForward: number;
  toMixed: number;
}

/** Whether a participant's place in the room lets its call be forwarded. */
function plain(p: MixerParticipant): boolean {
  return p.packetMs === FRAME_MS && !p.splitsPackets && !p.isClosed && !p.recordOnly && !p.muted && !p.deaf && !p.hidden && p.audience === null && p.sending && p.receiving && p.privateSources.length === 0;
}

/** The room's tick schedule: the room time of the latest tick due at a time of the monotonic clock (MixClock.dueAt). */
export interface TickSchedule {
  dueAt(atMs: number): number;
}

export class TwoPartyForwarder {
  readonly stats: TwoPartyStats = { mode: 'mixed', forwarded: 0, forwardTicks: 0, toForward: 0, toMixed: 0 };
  /** Room time of the latest tick run, or of the latest one the clock skipped (packets arriving now belong to the next). */
  tickMs = -FRAME_MS;
  private pair: [MixerParticipant, MixerParticipant] | null = null;
  /** The pair of a forwarding that just ended, handed back to the mixer at the next tick. */
  private ended: [MixerParticipant, MixerParticipant] | null = null;
  /** After a hand-back: listeners (`to`) whose mix waits for the other leg (`from`) while its jitter buffer regains its depth, and the slips left. */
  private readonly regaining: { from: MixerParticipant; to: MixerParticipant; left: number }[] = [];
  /** The listeners slipped this tick (slips), reused. */
  private readonly slipped: MixerParticipant[] = [];
  /** The pair last handed back, until forwarding starts again: their packets that come too late for the switch (late). */
  private handed: [MixerParticipant, MixerParticipant] | null = null;

  constructor(private readonly schedule: TickSchedule) {}

  get active(): boolean {
    return this.pair !== null;
  }

  /** Whether a room of these participants, with `roomSources` playing, can forward. */
  static eligible(list: readonly MixerParticipant[], roomSources: number): boolean {
    return list.length === 2 && roomSources === 0 && list[0].codec === list[1].codec && plain(list[0]) && plain(list[1]);
  }

  /** Mixed → forwarded, after the tick at `tickMs` sent its last mixed frames. */
  start(a: MixerParticipant, b: MixerParticipant, tickMs: number): void {
    if (this.pair || this.ended) return;
    this.regaining.length = 0;
    if (this.handed) for (const p of this.handed) p.handedBack = null;
    this.handed = null;
    this.pair = [a, b];
    this.stats.mode = 'forward';
    this.stats.toForward++;
    for (const [from, to] of [[a, b], [b, a]]) {
      // The frame of `from` this tick mixed (or, on a hand-back tick, the one forwarded) is the last `to` got.
      to.output.beginForward(from.playedFrame(tickMs), !from.hasInput);
      from.relay = this;
      // Frames still waiting to be mixed: the listener gets them now instead.
      for (const slot of from.waitingSlots()) this.send(from, to, slot.seq, slot.timestamp, false, slot.payload, tickMs);
    }
  }

  /** Stops forwarding at once (nothing more goes leg to leg); the next tick hands the two back to the mixer. */
  stop(): void {
    if (!this.pair) return;
    for (const p of this.pair) p.relay = null;
    this.ended = this.pair;
    this.pair = null;
    this.stats.mode = 'mixed';
    this.stats.toMixed++;
  }

  /**
   * At the start of the tick at `tickMs`, after a forwarding ended: each leg's
   * jitter buffer drops what the other already got forwarded, and the legs
   * that got this tick's frame of the other already are returned: the mixer
   * sends them nothing this tick (null: none).
   */
  handBack(tickMs: number): MixerParticipant[] | null {
    const pair = this.ended;
    if (!pair) return null;
    this.ended = null;
    this.handed = pair;
    const [a, b] = pair;
    let served: MixerParticipant[] | null = null;
    for (const [from, to] of [[a, b], [b, a]]) {
      const last = to.output.lastForwarded;
      // Still buffered, the newest frame `to` got plays this tick: `to` must not get it twice.
      // (It came in a burst with the one before: it reached `to` a tick ago and waits here still.)
      const playsNow = last !== null && !from.isClosed && !to.isClosed && from.dropHeard(last);
      if (playsNow || to.output.covers(tickMs)) (served ??= []).push(to);
      to.output.endForward(tickMs, playsNow);
      if (last !== null) this.regaining.push({ from, to, left: MAX_SLIPS });
      from.handedBack = this;
    }
    return served;
  }

  /**
   * Whether `from`'s input this tick waits for a frame missing while a later one is here (a network
   * that reorders: JitterBuffer.pop) instead of playing it lost: while a listener regains from it
   * and has a slip left, that is one more tick without its next frame, and slips. (Its buffer,
   * emptied at the hand-back, plays each packet as soon as it comes: a pair overtaking each other
   * across a tick found the first missing.) Once a gap: a packet really lost is concealed next tick.
   */
  waitsFor(from: MixerParticipant): boolean {
    for (let i = 0; i < this.regaining.length; i++) if (this.regaining[i].from === from && this.regaining[i].left > 0) return true;
    return false;
  }

  /**
   * After the tick's input was read: the listeners whose mix waits this tick for the other leg of
   * a hand-back (none: null), their timelines held (see above). Not `served` ones (they got this
   * tick's frame already).
   */
  slips(tickMs: number, served: MixerParticipant[] | null): MixerParticipant[] | null {
    const out = this.slipped;
    out.length = 0;
    for (let i = 0; i < this.regaining.length; i++) {
      const r = this.regaining[i];
      if (served?.includes(r.to)) continue;
      const played = r.from.playedFrame(tickMs) !== null;
      if (!played && !r.from.isClosed && !r.to.isClosed && r.left-- > 0) {
        r.to.output.slip(tickMs);
        out.push(r.to);
      } else if (r.from.isClosed || r.to.isClosed || r.left <= 0 || r.from.buffered + 1 >= r.from.jitterStats.targetMs / FRAME_MS) this.regaining.splice(i--, 1);
    }
    return out.length > 0 ? out : null;
  }

  /**
   * @internal A packet of `from`'s audio, read at `rxMs` (called from its pushRtp). It came after the latest
   * tick due then, which may not have run yet: read after a stall, before the catch-up ticks (see above).
   */
  packet(from: MixerParticipant, seq: number, timestamp: number, marker: boolean, payload: Uint8Array, rxMs: number, overtook = false): void {
    const pair = this.pair;
    if (!pair) return;
    const due = this.schedule.dueAt(rxMs);
    this.send(from, pair[0] === from ? pair[1] : pair[0], seq, timestamp, marker, payload, due > this.tickMs ? due : this.tickMs, overtook);
  }

  /**
   * @internal After a hand-back, a packet of `from`'s audio its jitter buffer refused as late (called from its
   * pushRtp): one older than the other leg heard forwarded that came after the switch goes to it (RtpOutput.forwardLate).
   */
  late(from: MixerParticipant, seq: number, timestamp: number, payload: Uint8Array): void {
    const pair = this.handed;
    if (!pair) return;
    const to = pair[0] === from ? pair[1] : pair[0];
    const ssrc = from.inputSsrc;
    if (to.isClosed || !from.speaksToAll || to.deaf || !to.sending || ssrc === null) return;
    if (to.output.forwardLate(ssrc, seq, timestamp, payload)) this.stats.forwarded++;
  }

  /** @internal A packet of `from`'s that is not forwarded (telephone-event, comfort noise). */
  dropped(from: MixerParticipant, ssrc: number, seq: number, timestamp: number): void {
    const pair = this.pair;
    if (!pair) return;
    (pair[0] === from ? pair[1] : pair[0]).output.dropInput(ssrc, seq, timestamp);
  }

  /** `tickMs`: the tick the packet came after (its frame belongs to the next). */
  private send(from: MixerParticipant, to: MixerParticipant, seq: number, timestamp: number, marker: boolean, payload: Uint8Array, tickMs: number, overtook = false): void {
    // A role set between two ticks takes effect at once; the next tick hands over to the mixer.
    if (!from.speaksToAll || to.deaf || !to.sending) return;
    const ssrc = from.inputSsrc;
    if (ssrc === null) return;
    if (to.output.forward(ssrc, seq, timestamp, marker, payload, tickMs, overtook)) this.stats.forwarded++;
  }
}

// What a test's RTP peer heard after an action, judged robustly: a second of its
// decoded 8 kHz audio, and a tone's share and the level as medians over 100 ms
// blocks (one jitter-buffer glitch on a busy machine, a phase jump, does not decide).
import { purity, rms } from './audio-analysis.ts';
import type { RtpPeer } from './rtp-peer.ts';
import { waitFor } from './wait.ts';

/** What `peer` heard in the second after packet `from` + 10 (an action takes effect within 200 ms). */
export async function heardAfter(peer: RtpPeer, from: number, timeoutMs = 15_000): Promise<Int16Array> {
  await waitFor('60 more packets', () => peer.received.length >= from + 60, timeoutMs);
  return peer.decoded(from + 10).subarray(0, 8000);
}

/**
 * The share of `hz` in 8 kHz audio, its level (RMS) and the RMS of everything
 * else, each the median over 100 ms blocks; `peakOther` is the loudest block's other energy.
 */
export function toneAndLevel(pcm: Int16Array, hz: number): { share: number; rms: number; other: number; peakOther: number } {
  const shares: number[] = [];
  const levels: number[] = [];
  const others: number[] = [];
  for (let s = 0; s + 800 <= pcm.length; s += 800) {
    const share = purity(pcm, 8000, hz, s, 800);
    const level = rms(pcm, s, 800);
    shares.push(share);
    levels.push(level);
    others.push(level * Math.sqrt(Math.max(0, 1 - share)));
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  return { share: median(shares), rms: median(levels), other: median(others), peakOther: Math.max(...others) };
}

/** Whether 8 kHz audio holds `hz` clearly (share over 0.6, level over 0.02 of full scale, medians), and the figures. */
export function hears(pcm: Int16Array, hz: number): { ok: boolean; detail: string } {
  const t = toneAndLevel(pcm, hz);
  return { ok: t.share > 0.6 && t.rms > 0.02, detail: `${hz} Hz share ${t.share.toFixed(2)}, rms ${t.rms.toFixed(3)} of full scale` };
}

/**
 * Whether `peer` comes to hear `hz` in the packets after index `from`: each second of what
 * it receives is judged in turn until one holds the tone (setting up a bridge, a jitter
 * buffer filling, take a moment on a loaded machine), for up to `seconds`.
 */
export async function comesToHear(peer: RtpPeer, hz: number, from: number, seconds = 8): Promise<{ ok: boolean; detail: string }> {
  let last = { ok: false, detail: 'nothing heard' };
  for (let at = from, i = 0; i < seconds && !last.ok; i++, at += 50) {
    const pcm = await heardAfter(peer, at);
    // G.722 decodes at 16 kHz: every other sample is the 8 kHz signal the analysis reads (a pure tone, no aliasing).
    last = hears(peer.codec === 'G722' ? pcm.filter((_, i) => i % 2 === 0) : pcm, hz);
  }
  return last;
}

/**
 * Each 20 ms packet of 8 kHz audio against a tone of `hz`: the tone's amplitude
 * in it and the RMS of what is left (full scale 1), by a least-squares fit of
 * the tone at any phase, packet by packet. Judged so, what a loaded machine does
 * to a stream (a stalled sender's missing frames played as silence or a
 * concealed repeat, a phase jump between two packets) leaves no residue, while
 * anything else mixed in (a prompt) does, in every packet it is in.
 */
export function toneByPacket(pcm: Int16Array, hz: number): { amplitude: number; residual: number }[] {
  const n = 160;
  const w = (2 * Math.PI * hz) / 8000;
  let ss = 0;
  let sc = 0;
  let cc = 0;
  for (let i = 0; i < n; i++) {
    ss += Math.sin(w * i) ** 2;
    sc += Math.sin(w * i) * Math.cos(w * i);
    cc += Math.cos(w * i) ** 2;
  }
  const det = ss * cc - sc * sc;
  const out: { amplitude: number; residual: number }[] = [];
  for (let s = 0; s + n <= pcm.length; s += n) {
    let xs = 0;
    let xc = 0;
    for (let i = 0; i < n; i++) {
      xs += (pcm[s + i] / 32768) * Math.sin(w * i);
      xc += (pcm[s + i] / 32768) * Math.cos(w * i);
    }
    const a = (xs * cc - xc * sc) / det;
    const b = (xc * ss - xs * sc) / det;
    let e = 0;
    for (let i = 0; i < n; i++) e += (pcm[s + i] / 32768 - a * Math.sin(w * i) - b * Math.cos(w * i)) ** 2;
    out.push({ amplitude: Math.hypot(a, b), residual: Math.sqrt(e / n) });
  }
  return out;
}

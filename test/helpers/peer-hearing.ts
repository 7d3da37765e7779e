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

/** The share of `hz` in 8 kHz audio and its level (RMS), each the median over 100 ms blocks. */
export function toneAndLevel(pcm: Int16Array, hz: number): { share: number; rms: number } {
  const shares: number[] = [];
  const levels: number[] = [];
  for (let s = 0; s + 800 <= pcm.length; s += 800) {
    shares.push(purity(pcm, 8000, hz, s, 800));
    levels.push(rms(pcm, s, 800));
  }
  const median = (a: number[]): number => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  return { share: median(shares), rms: median(levels) };
}

// Drives a FrameSource the way the mixer does (one nextFrame() per tick), but as fast
// as possible: waits (on the event loop, not a timer guess) while a Player is loading.
import type { FrameSource, PcmFrame } from '../../src/mixer/frames.ts';
import type { Player } from '../../src/playback/player.ts';

/** Pulls until the source ends; frames pulled while the player was loading are dropped. */
export async function pullAll(player: Player, maxFrames = 100_000): Promise<PcmFrame[]> {
  const frames: PcmFrame[] = [];
  while (player.playState === 'loading') await new Promise((r) => setImmediate(r));
  for (let i = 0; i < maxFrames; i++) {
    const f = player.nextFrame();
    if (f === null) return frames;
    frames.push(f);
  }
  throw new Error(`source did not end within ${maxFrames} frames`);
}

export function pullN(source: FrameSource, n: number): (PcmFrame | null)[] {
  const out: (PcmFrame | null)[] = [];
  for (let i = 0; i < n; i++) out.push(source.nextFrame());
  return out;
}

export function concatFrames(frames: PcmFrame[]): Int16Array {
  const out = new Int16Array(frames.reduce((s, f) => s + f.length, 0));
  let o = 0;
  for (const f of frames) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

// What the recording player draws, as plain data: min/max peaks per pixel column
// of the decoded audio, and the sidecar's marks (the notice, pauses, masks) on the
// file's timeline. No DOM here (unit-tested in Node); waveform.ts draws them.

export interface Peaks {
  min: Float32Array;
  max: Float32Array;
}

/** Min and max of `samples` in each of `columns` equal slices. */
export function peaks(samples: Float32Array, columns: number): Peaks {
  const min = new Float32Array(columns);
  const max = new Float32Array(columns);
  const per = samples.length / columns;
  for (let c = 0; c < columns; c++) {
    const from = Math.floor(c * per);
    const to = Math.max(from + 1, Math.floor((c + 1) * per));
    let lo = 0;
    let hi = 0;
    for (let i = from; i < to && i < samples.length; i++) {
      const v = samples[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    min[c] = lo;
    max[c] = hi;
  }
  return { min, max };
}

export type MarkKind = 'notice' | 'pause' | 'mask';

/** A mark on the file's timeline (fileMs); a zero-length one (a skipped pause) is drawn as a line. */
export interface Mark {
  kind: MarkKind;
  fromMs: number;
  toMs: number;
  label: string;
}

interface Point {
  fileMs: number;
}
interface Interval {
  reason: string | null;
  start: Point;
  end: Point | null;
}

/** The marks of a recording's sidecar (src/recording/metadata.ts: notices, pauses, masks). */
export function marksOf(meta: { durationMs: number; notices?: (Point & { prompt: string; leg?: string })[]; pauses?: Interval[]; masks?: Interval[] }): Mark[] {
  const out: Mark[] = [];
  for (const n of meta.notices ?? []) out.push({ kind: 'notice', fromMs: n.fileMs, toMs: n.fileMs, label: `notice ${n.prompt}${n.leg ? ` (to ${n.leg})` : ''}` });
  for (const p of meta.pauses ?? []) out.push({ kind: 'pause', fromMs: p.start.fileMs, toMs: p.end?.fileMs ?? meta.durationMs, label: `paused${p.reason ? `: ${p.reason}` : ''}` });
  for (const m of meta.masks ?? []) out.push({ kind: 'mask', fromMs: m.start.fileMs, toMs: m.end?.fileMs ?? meta.durationMs, label: `masked${m.reason ? `: ${m.reason}` : ''}` });
  return out;
}


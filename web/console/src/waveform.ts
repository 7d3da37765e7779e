// The recording player's waveform: min/max peaks per pixel column of the decoded
// audio, drawn on a canvas with the sidecar's marks (the notice, pauses, masks)
// and the play position.

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

export const MARK_COLOURS: Record<MarkKind, string> = { notice: '#2f6fd6', pause: '#d08a00', mask: '#c8324b' };

export function draw(canvas: HTMLCanvasElement, p: Peaks, durationMs: number, marks: Mark[], positionMs: number): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const w = canvas.width;
  const h = canvas.height;
  const mid = h / 2;
  const x = (ms: number): number => (durationMs > 0 ? (ms / durationMs) * w : 0);
  g.clearRect(0, 0, w, h);
  g.fillStyle = '#f4f6f9';
  g.fillRect(0, 0, w, h);
  for (const m of marks) {
    if (m.toMs > m.fromMs) {
      g.fillStyle = MARK_COLOURS[m.kind] + '33';
      g.fillRect(x(m.fromMs), 0, Math.max(1, x(m.toMs) - x(m.fromMs)), h);
    }
  }
  const cols = p.min.length;
  for (let c = 0; c < cols; c++) {
    const px = (c / cols) * w;
    g.fillStyle = px <= x(positionMs) ? '#1d3b6a' : '#7d8fa9';
    const top = mid - p.max[c]! * mid;
    const bottom = mid - p.min[c]! * mid;
    g.fillRect(px, top, Math.max(1, w / cols - 0.5), Math.max(1, bottom - top));
  }
  for (const m of marks) {
    g.fillStyle = MARK_COLOURS[m.kind];
    g.fillRect(x(m.fromMs) - 1, 0, 2, h);
    if (m.kind === 'notice') g.fillRect(x(m.fromMs), 0, 10, 6);
  }
  g.fillStyle = '#000';
  g.fillRect(x(positionMs), 0, 1, h);
}

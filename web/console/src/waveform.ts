// The recording player's waveform: the peaks drawn on a canvas with the marks
// (shaded spans, a line at each start, a flag on the notice) and the play position.
import type { Mark, MarkKind, Peaks } from './peaks.ts';

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

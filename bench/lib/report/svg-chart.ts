// The summary chart (bench/results/summary.svg), drawn by hand: four panels of bars,
// each with its own scale. Mixing: legs per core, Parley against Janus AudioBridge,
// per room size. Call setup: p50/p99 INVITE→183 and INVITE→200 of the record-notice
// flow. Recording: recordings closed per second and post-processing speed. CPU per call:
// Parley against Kamailio + rtpengine at the same rate in the same run (bench:calls,
// with and without a CPU hog, and bench:bridge).
// Every bar is a <rect class="bar"> carrying its series and value, so tests (and
// anyone reading the file) can find the numbers again.
import type { CpuRatio, Summary } from './summary.ts';

export interface Bar {
  /** What the bar is, under it. */
  label: string;
  value: number;
  /** Shown above the bar. */
  text: string;
  series: string;
  color: string;
}

export interface Panel {
  title: string;
  /** The unit of the scale, under the title. */
  unit: string;
  /** Bars in groups: each group shares an x label, and may have a second line (a ratio). */
  groups: Array<{ label: string; sublabel?: string; bars: Bar[] }>;
  /** Shown instead of bars when there are none. */
  empty: string;
  legend?: Array<{ series: string; color: string }>;
}

const PARLEY = '#2f6db5';
const JANUS = '#d9822b';
const ANCHOR = '#8c564b';
const P50 = '#4a9d5b';
const P99 = '#9b3d8f';
const MUTED = '#6b7280';

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A round number at or above v: 1, 2, 2.5 or 5 times a power of ten. */
export function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v: number | null): string {
  if (v === null || !Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 10) return v.toFixed(1).replace(/\.0$/, '');
  return v.toFixed(2).replace(/\.?0+$/, '');
}

/** The panels the summary has figures for (a missing benchmark leaves its panel empty, with a note). */
export function panelsFor(s: Summary): Panel[] {
  const mixing: Panel = {
    title: 'Mixing: legs per core (< 0.5 % late + missing frames)',
    unit: 'legs per core; ×: Parley / Janus',
    empty: 'not measured: bench:mixing did not run',
    legend: [{ series: 'Parley', color: PARLEY }, { series: 'Janus AudioBridge', color: JANUS }],
    groups: (s.mixing?.rooms ?? []).map((r) => ({
      label: `rooms of ${r.roomSize}`,
      sublabel: Number.isFinite(r.ratioLegsPerCore) ? `×${r.ratioLegsPerCore.toFixed(2)}` : '×–',
      bars: [
        { label: 'Parley', value: r.parley.legsPerCore ?? NaN, text: fmt(r.parley.legsPerCore), series: 'Parley', color: PARLEY },
        { label: 'Janus', value: r.janus.legsPerCore ?? NaN, text: fmt(r.janus.legsPerCore), series: 'Janus AudioBridge', color: JANUS },
      ],
    })),
  };
  const c = s.calls?.highestRateNoFailedCall ? s.calls : null;
  const setupBars = (label: string, t: { p50: number | null; p99: number | null }): { label: string; bars: Bar[] } => ({
    label,
    bars: [
      { label: 'p50', value: t.p50 ?? NaN, text: t.p50 === null ? '–' : `${fmt(t.p50)} ms`, series: 'p50', color: P50 },
      { label: 'p99', value: t.p99 ?? NaN, text: t.p99 === null ? '–' : `${fmt(t.p99)} ms`, series: 'p99', color: P99 },
    ],
  });
  const calls: Panel = {
    title: c ? `Call setup at ${fmt(c.highestRateNoFailedCall)} calls/s, ${fmt(c.concurrentCallsHeld ?? NaN)} held` : 'Call setup (record-notice flow)',
    unit: c?.noticeMs ? `ms (INVITE→200 includes a ${c.noticeMs} ms notice)` : 'ms',
    empty: s.calls ? `no clean rate among ${s.calls.ratesTried.join(', ')} calls/s` : 'not measured: bench:calls did not run',
    legend: [{ series: 'p50', color: P50 }, { series: 'p99', color: P99 }],
    groups: c ? [setupBars('INVITE→183', c.inviteTo183), setupBars('INVITE→200', c.inviteTo200)] : [],
  };
  const r = s.recording;
  const recording: Panel = {
    title: 'Recording throughput',
    unit: 'per second / × real time',
    empty: 'not measured: bench:recording did not run',
    groups: r
      ? [
          { label: 'closed/s', bars: [{ label: 'closed/s', value: r.recordingsClosedPerSecond, text: `${fmt(r.recordingsClosedPerSecond)}/s`, series: 'recordings closed per second', color: PARLEY }] },
          { label: 'ogg ×RT', bars: [{ label: 'ogg', value: r.oggRealTimeFactor, text: `${fmt(r.oggRealTimeFactor)}×`, series: 'ogg/opus real-time factor', color: MUTED }] },
          { label: 'mp3 ×RT', bars: [{ label: 'mp3', value: r.mp3RealTimeFactor, text: `${fmt(r.mp3RealTimeFactor)}×`, series: 'mp3 real-time factor', color: MUTED }] },
        ]
      : [],
  };
  const ratios: Array<[string, CpuRatio | null | undefined]> = [
    ['calls', s.calls?.cpuRatio],
    ['calls + hog', s.calls?.cpuRatioHog],
    ['bridge', s.bridge?.cpuRatio],
  ];
  const cpu: Panel = {
    title: 'CPU per call vs Kamailio + rtpengine',
    unit: 'ms per call, same rate, same run; ×: Parley / anchor',
    empty: 'not measured: no rate clean for both in bench:calls or bench:bridge',
    legend: [{ series: 'Parley', color: PARLEY }, { series: 'Kamailio + rtpengine', color: ANCHOR }],
    groups: ratios.filter((e): e is [string, CpuRatio] => !!e[1]).map(([label, r]) => ({
      label: `${label} @${fmt(r.rate)}/s`,
      sublabel: `×${r.ratio.toFixed(2)}`,
      bars: [
        { label: 'Parley', value: r.parleyMs, text: `${fmt(r.parleyMs)} ms`, series: 'Parley', color: PARLEY },
        { label: 'anchor', value: r.anchorMs, text: `${fmt(r.anchorMs)} ms`, series: 'Kamailio + rtpengine', color: ANCHOR },
      ],
    })),
  };
  return [mixing, calls, recording, cpu];
}

const PANEL_H = 300;
const TOP = 70;
const LEFT = 48;
const BAR_W = 36;
const BAR_GAP = 4;
const GROUP_GAP = 44;

function panelWidth(p: Panel): number {
  const bars = p.groups.reduce((n, g) => n + g.bars.length, 0);
  // Room for the title too (about 8 px a character at 14 px bold).
  return Math.max(240, LEFT + 20 + bars * (BAR_W + BAR_GAP) + p.groups.length * GROUP_GAP, LEFT + 20 + p.title.length * 8);
}

function drawPanel(p: Panel, x0: number): string[] {
  const w = panelWidth(p);
  const out: string[] = [`<g class="panel" transform="translate(${x0},0)">`];
  out.push(`<text x="${LEFT}" y="24" font-size="14" font-weight="bold">${escapeXml(p.title)}</text>`);
  out.push(`<text x="${LEFT}" y="42" font-size="11" fill="${MUTED}">${escapeXml(p.unit)}</text>`);
  const base = TOP + PANEL_H;
  if (!p.groups.length) {
    out.push(`<text x="${LEFT}" y="${TOP + PANEL_H / 2}" font-size="12" fill="${MUTED}">${escapeXml(p.empty)}</text>`, '</g>');
    return out;
  }
  const values = p.groups.flatMap((g) => g.bars.map((b) => b.value)).filter(Number.isFinite);
  const max = niceMax(Math.max(0, ...values));
  for (let i = 0; i <= 4; i++) {
    const y = base - (PANEL_H * i) / 4;
    out.push(`<line x1="${LEFT}" y1="${y}" x2="${w - 10}" y2="${y}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${LEFT - 6}" y="${y + 4}" font-size="10" text-anchor="end" fill="${MUTED}">${escapeXml(fmt((max * i) / 4))}</text>`);
  }
  let x = LEFT + GROUP_GAP / 2;
  for (const g of p.groups) {
    const gw = g.bars.length * (BAR_W + BAR_GAP) - BAR_GAP;
    for (const b of g.bars) {
      const v = Number.isFinite(b.value) ? Math.max(0, b.value) : 0;
      const h = (PANEL_H * v) / max;
      out.push(
        `<rect class="bar" data-series="${escapeXml(b.series)}" data-group="${escapeXml(g.label)}" data-value="${Number.isFinite(b.value) ? b.value : ''}" ` +
          `x="${x}" y="${(base - h).toFixed(1)}" width="${BAR_W}" height="${h.toFixed(1)}" fill="${b.color}"><title>${escapeXml(`${g.label}, ${b.label}: ${b.text}`)}</title></rect>`,
      );
      out.push(`<text x="${x + BAR_W / 2}" y="${(base - h - 4).toFixed(1)}" font-size="10" text-anchor="middle">${escapeXml(b.text)}</text>`);
      x += BAR_W + BAR_GAP;
    }
    out.push(`<text x="${x - BAR_GAP - gw / 2}" y="${base + 16}" font-size="11" text-anchor="middle">${escapeXml(g.label)}</text>`);
    if (g.sublabel) out.push(`<text x="${x - BAR_GAP - gw / 2}" y="${base + 30}" font-size="11" font-weight="bold" text-anchor="middle">${escapeXml(g.sublabel)}</text>`);
    x += GROUP_GAP - BAR_GAP;
  }
  let lx = LEFT;
  for (const l of p.legend ?? []) {
    out.push(`<rect x="${lx}" y="50" width="10" height="10" fill="${l.color}"/>`);
    out.push(`<text x="${lx + 14}" y="59" font-size="11">${escapeXml(l.series)}</text>`);
    lx += 24 + l.series.length * 6.5;
  }
  out.push(`<line x1="${LEFT}" y1="${base}" x2="${w - 10}" y2="${base}" stroke="#374151"/>`, '</g>');
  return out;
}

export function renderSvg(s: Summary): string {
  const panels = panelsFor(s);
  const widths = panels.map(panelWidth);
  const width = widths.reduce((a, b) => a + b, 0) + 20;
  const height = TOP + PANEL_H + 72;
  const foot = `${s.command}${s.date ? `, ${s.date.slice(0, 16).replace('T', ' ')} UTC` : ''}${s.machine.cores ? `, ${s.machine.cores} cores` : ''}${s.machine.model ? ` (${s.machine.model})` : ''}`;
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
  ];
  let x = 10;
  panels.forEach((p, i) => {
    out.push(...drawPanel(p, x));
    x += widths[i];
  });
  out.push(`<text x="10" y="${height - 12}" font-size="11" fill="${MUTED}">${escapeXml(`Parley benchmarks: ${foot}`)}</text>`, '</svg>', '');
  return out.join('\n');
}

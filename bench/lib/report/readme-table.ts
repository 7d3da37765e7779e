// The README's benchmark table: built from the summary and written between
// <!-- bench:start --> and <!-- bench:end -->, leaving the rest of the file as it is.
import type { CallVariantFigures, CpuRatio, Summary } from './summary.ts';

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

function n(v: number | null | undefined, digits = 0): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ms(t: { p50: number | null; p99: number | null }): string {
  return `${n(t.p50, 1)} / ${n(t.p99, 1)} ms`;
}

const ANCHOR = 'Kamailio + rtpengine';

function rate(v: CallVariantFigures | null | undefined): string {
  if (!v) return 'not run';
  return v.highestCleanRate > 0 ? `${n(v.highestCleanRate)} calls/s` : `none of ${v.ratesTried.join(', ') || 'no'} calls/s`;
}

function rateAndCpu(v: CallVariantFigures | null | undefined): string {
  if (!v) return 'not run';
  return v.highestCleanRate > 0 ? `${n(v.highestCleanRate)} calls/s; ${n(v.cpuMsPerCall, 1)} ms` : rate(v);
}

function ratioRow(what: string, r: CpuRatio | null, from: string): string[] {
  return r
    ? [`${what} at the same rate in the same run (${n(r.rate)} calls/s)`, `${n(r.parleyMs, 1)} ms`, `${n(r.anchorMs, 1)} ms`, `**${n(r.ratio, 2)}×** the CPU`, from]
    : [`${what} at the same rate in the same run`, 'no rate clean for both', '', '–', from];
}

function day(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : 'not run';
}

/** The markdown between the markers (without them). */
export function benchTable(s: Summary): string {
  const rows: string[][] = [];
  const na = 'not run';
  if (s.mixing?.rooms.length) {
    for (const r of s.mixing.rooms) {
      rows.push([
        `Mixing, rooms of ${r.roomSize}: legs per core at < 0.5 % late + missing frames`,
        n(r.parley.legsPerCore), n(r.janus.legsPerCore), Number.isFinite(r.ratioLegsPerCore) ? `**${n(r.ratioLegsPerCore, 2)}×**` : '–', 'bench:mixing',
      ]);
      rows.push([
        `Mixing, rooms of ${r.roomSize}: CPU per leg per 20 ms frame; added latency p50 / p99`,
        `${n(r.parley.cpuMicrosPerLegPerFrame, 1)} µs; ${n(r.parley.latencyP50Ms, 1)} / ${n(r.parley.latencyP99Ms, 1)} ms`,
        `${n(r.janus.cpuMicrosPerLegPerFrame, 1)} µs; ${n(r.janus.latencyP50Ms, 1)} / ${n(r.janus.latencyP99Ms, 1)} ms`,
        r.janus.cpuMicrosPerLegPerFrame > 0 ? `${n(r.parley.cpuMicrosPerLegPerFrame / r.janus.cpuMicrosPerLegPerFrame, 2)}× the CPU` : '–',
        'bench:mixing',
      ]);
    }
    for (const r of s.mixing.saturation) {
      // ≥: clean at every count the ramp tried, so the saturation point is higher.
      const legs = (v: number, saturated: boolean): string => `${saturated ? '' : '≥ '}${n(v)}`;
      rows.push([
        `Mixing, rooms of ${r.roomSize}: most legs held at < 0.5 % late + missing (ramp to saturation, whole machine${r.generatorBound ? '; the load generator was near its own limit' : ''})`,
        legs(r.parleyMaxCleanLegs, r.parleySaturated), legs(r.janusMaxCleanLegs, r.janusSaturated), Number.isFinite(r.ratio) ? `**${n(r.ratio, 2)}×**` : '–', 'bench:mixing',
      ]);
    }
  } else {
    rows.push(['Mixing against Janus AudioBridge', na, na, '–', 'bench:mixing']);
  }
  const c = s.calls;
  if (c && c.highestRateNoFailedCall > 0) {
    rows.push([`Call setup (record-notice end to end; ${ANCHOR} relaying and recording pcap): highest call rate reached with no failed call and sound in every recording`, `${n(c.highestRateNoFailedCall)} calls/s`, c.anchor ? rate(c.anchor) : '', '', 'bench:calls']);
    rows.push([`Calls held at once with media at that rate (${n(c.holdMs / 1000)} s hold)`, n(c.concurrentCallsHeld), c.anchor ? n(c.anchor.concurrentCallsHeld) : '', '', 'bench:calls']);
    rows.push(['Setup p50 / p99: INVITE → 183 (answered with early media)', ms(c.inviteTo183), '', '', 'bench:calls']);
    rows.push([`Setup p50 / p99: INVITE → 200 (Parley: notice of ${c.noticeMs ?? '?'} ms first; callee answers at once)`, ms(c.inviteTo200), c.anchor ? ms(c.anchor.inviteTo200) : '', '', 'bench:calls']);
    rows.push([`CPU per call at that rate (the servers' processes: setup, ${n(c.holdMs / 1000)} s of media, recording closed)`, `${n(c.cpuMsPerCall, 1)} ms`, c.anchor ? `${n(c.anchor.cpuMsPerCall, 1)} ms` : '', '', 'bench:calls']);
    if (c.anchor) rows.push(ratioRow('CPU per call', c.cpuRatio, 'bench:calls'));
    if (c.parleyHog || c.anchorHog) {
      rows.push(['With a process spinning on every core: highest clean rate; CPU per call there', rateAndCpu(c.parleyHog), c.anchorHog ? rateAndCpu(c.anchorHog) : '', '', 'bench:calls']);
      if (c.anchorHog) rows.push(ratioRow('With the spinning process, CPU per call', c.cpuRatioHog, 'bench:calls'));
    }
  } else if (c) {
    rows.push(['Call setup (record-notice end to end): highest call rate without a failed call', `none of the rates tried (${c.ratesTried.join(', ') || 'none'} calls/s)`, '', '', 'bench:calls']);
  } else {
    rows.push(['Call setup (record-notice end to end)', na, '', '', 'bench:calls']);
  }
  const b = s.bridge;
  if (b) {
    rows.push([`Bridged and recorded two-party calls, no prompt (Parley: WAV stems, stereo, mix; ${ANCHOR}: pcap): highest rate with no failed call; CPU per call there`, rateAndCpu(b.parley), b.anchor ? rateAndCpu(b.anchor) : '', '', 'bench:bridge']);
    if (b.anchor) rows.push(ratioRow('Bridged calls: CPU per call', b.cpuRatio, 'bench:bridge'));
  } else {
    rows.push(['Bridged and recorded two-party calls', na, na, '–', 'bench:bridge']);
  }
  const r = s.recording;
  rows.push(r
    ? [
        'Recording: recordings closed and hashed per second (also signed and audit-logged); post-processing ogg / mp3',
        `${n(r.recordingsClosedPerSecond)}/s${r.recordingsSignedPerSecond != null ? ` (${n(r.recordingsSignedPerSecond)}/s)` : ''}; ${n(r.oggRealTimeFactor)}× / ${n(r.mp3RealTimeFactor)}× real time`,
        '',
        '',
        'bench:recording',
      ]
    : ['Recording', na, '', '', 'bench:recording']);
  const sip = s.sip;
  rows.push(sip
    ? ['SIP only (minimal UAS): highest rate without a failed call; highest with p99 INVITE→200 < 50 ms', `${n(sip.highestRateNoFailedCall)} calls/s (p99 ${n(sip.p99MsAtHighestRate)} ms); ${n(sip.highestRateNoFailureAndP99Under50ms)} calls/s`, '', '', 'bench:sip']
    : ['SIP only', na, '', '', 'bench:sip']);
  const m = s.mixer;
  rows.push(m
    ? [`Mixer alone: ${n(m.legs)} legs in rooms of ${n(m.roomSize)}; late frames; added latency p50 / p99`, `${n(m.legsPerCore)} legs per core (${n(m.microsPerLegPerFrame, 1)} µs per leg per frame); ${n(m.latePercent, 2)} %; ${n(m.latencyP50Ms, 1)} / ${n(m.latencyP99Ms, 1)} ms`, '', '', 'bench:mixer']
    : ['Mixer alone', na, '', '', 'bench:mixer']);

  const f = s.floor;
  rows.push(f
    ? [
        `Two-party forwarding alone, ${n(f.calls)} calls at once, no SIP, no recording (rtpengine: also with pcap; a bare \`node:dgram\` relay, each packet received and sent once: ${n(f.nodeUs, 1)} µs${f.parleyDgramUs !== null ? `; Parley with \`media.nativeIo\` off, every packet through \`node:dgram\`: ${n(f.parleyDgramUs, 1)} µs` : ''}): CPU per packet forwarded`,
        `${n(f.parleyUs, 1)} µs`,
        `rtpengine: ${n(f.rtpengineUs, 1)} µs; with pcap ${n(f.rtpenginePcapUs, 1)} µs`,
        f.parleyUs !== null && f.rtpengineUs ? `**${n(f.parleyUs / f.rtpengineUs, 2)}×** the CPU` : '–',
        'bench:floor',
      ]
    : ['Two-party forwarding alone against rtpengine', na, na, '–', 'bench:floor']);

  const rec = s.siprec;
  rows.push(rec
    ? [
        `SIPREC recording, ${n(rec.sessions)} two-stream sessions at once (Parley: WAV per stream, stereo, mix, signed sidecar; rtpengine: pcap): packets lost of ${n(rec.packetsSent)}; CPU per session-second${rec.load !== null ? ` (load ${n(rec.load, 1)}; the generator up to ${n(rec.generatorMaxLagMs)} ms late)` : ''}`,
        `${n(rec.parleyLost)} lost; ${n(rec.parleyCpuMsPerSessionSecond, 2)} ms`,
        rec.rtpengineLost !== null || rec.rtpengineCpuMsPerSessionSecond !== null ? `rtpengine: ${n(rec.rtpengineLost)} lost; ${n(rec.rtpengineCpuMsPerSessionSecond, 2)} ms` : 'not run',
        rec.cpuRatio !== null ? `**${n(rec.cpuRatio, 2)}×** the CPU` : '–',
        'bench:siprec',
      ]
    : ['SIPREC recording against rtpengine', na, na, '–', 'bench:siprec']);

  const machine = `${s.machine.cores ?? '?'} cores${s.machine.model ? `, ${s.machine.model}` : ''}`;
  const lines = [
    `Made by \`${s.command}\` (latest results ${day(s.date)}, ${machine}; \`bench/results/summary.json\`, chart \`bench/results/summary.svg\`).`,
    '',
    `| measure | Parley | the other server (mixing: Janus AudioBridge; calls, bridge: ${ANCHOR}; SIPREC: rtpengine) | Parley / other | from |`,
    '| --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
    `Measured at: ${Object.entries(s.sources).map(([k, v]) => `bench:${k} ${day(v)}`).join('; ')}.`,
  ];
  return lines.join('\n');
}

/** The README with the table between the markers replaced; the rest is left byte for byte. */
export function rewriteReadme(readme: string, table: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < 0 || b < a) throw new Error(`README.md has no ${START} … ${END} block`);
  return `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
}

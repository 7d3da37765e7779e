// bench/report.ts's parts: the summary read from results JSON, the SVG chart (well
// formed, one bar per value) and the README table rewrite (idempotent, the rest of the
// README untouched). Results are samples written to a temp folder, not real figures.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { END, START, benchTable, rewriteReadme } from '../../../bench/lib/report/readme-table.ts';
import { buildSummary } from '../../../bench/lib/report/summary.ts';
import { niceMax, renderSvg } from '../../../bench/lib/report/svg-chart.ts';
import { allElements, parseXml } from '../../helpers/xml-check.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const side = (legsPerCore: number, cpu: number) => ({ legs: 60, cpuMicrosPerLegPerFrame: cpu, legsPerCore, latePercent: 0.1, missingPercent: 0, latencyP50Ms: 10, latencyP99Ms: 25 });

function resultsDir(which: { mixing?: boolean; calls?: boolean; others?: boolean } = { mixing: true, calls: true, others: true }): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-report-'));
  dirs.push(dir);
  const w = (name: string, o: unknown): void => writeFileSync(join(dir, name), JSON.stringify(o));
  if (which.mixing) {
    w('mixing.json', {
      date: '2026-11-22T10:00:00.000Z', cores: 2, method: 'sample',
      rooms: [
        { roomSize: 10, legs: 100, parley: side(400, 50), janus: side(200, 100), ratioLegsPerCore: 2 },
        { roomSize: 3, legs: 60, parley: side(450, 44), janus: side(300, 66) },
        { roomSize: 5, legs: 60, parley: side(420, 47), janus: side(280, 70), ratioLegsPerCore: 1.5 },
      ],
    });
  }
  if (which.calls) {
    w('calls.json', {
      date: '2026-11-22T10:05:00.000Z', machine: { cpus: 2, model: 'Sample & <CPU>' },
      method: { holdMs: 5000, notice: 'the first 300 ms of prompts/record-notice.wav, as notice and as whisper' },
      highestRateNoFailedCall: 20,
      atThatRate: {
        rate: 20, concurrentCallsHeld: 100, cpuMsPerCall: 97.3,
        setupMs: { inviteTo183: { n: 200, p50: 9.8, p99: 40 }, inviteToCalleeInvite: { n: 200, p50: 310, p99: 350 }, inviteTo200: { n: 200, p50: 317, p99: 380 } },
      },
    });
  }
  if (which.others) {
    w('recording.json', { date: '2026-11-22T09:00:00.000Z', closing: { recordingsClosedPerSecond: 191 }, postProcessOgg: { realTimeFactor: 103.6 }, postProcessMp3: { realTimeFactor: 134.7 } });
    w('sip.json', { date: '2026-11-22T09:10:00.000Z', machine: { cpus: 2 }, highestRateNoFailedCall: 3000, p99InviteTo200MsAtThatRate: 664, highestRateNoFailureAndP99Under50ms: 1500 });
    w('mixer.json', { date: '2026-11-22T09:20:00.000Z', legs: 400, roomSize: 10, cpu: { legsPerCoreAtThisCost: 451, microsPerLegPerFrame: { total: 44.3 } }, mixerTicks: { latePercent: 0 }, addedLatencyMs: { p50: 9.5, p99: 23.9 } });
  }
  return dir;
}

describe('bench report: summary', () => {
  it('reads every results file, sorts rooms, computes a missing ratio and takes the newest date', () => {
    const s = buildSummary(resultsDir());
    assert.equal(s.date, '2026-11-22T10:05:00.000Z');
    assert.deepEqual(s.mixing!.rooms.map((r) => r.roomSize), [3, 5, 10]);
    assert.equal(s.mixing!.rooms[0].ratioLegsPerCore, 1.5);
    assert.equal(s.calls!.noticeMs, 300);
    assert.equal(s.calls!.inviteTo200.p99, 380);
    assert.equal(s.recording!.oggRealTimeFactor, 103.6);
    assert.equal(s.sip!.highestRateNoFailureAndP99Under50ms, 1500);
    assert.equal(s.mixer!.legsPerCore, 451);
  });

  it('leaves a benchmark that did not run as null', () => {
    const s = buildSummary(resultsDir({ others: true }));
    assert.equal(s.mixing, null);
    assert.equal(s.calls, null);
    assert.equal(s.sources.mixing, null);
  });
});

/** A bench:calls / bench:bridge variant as bench/lib/call-ramp.ts writes it. */
const variant = (highestCleanRate: number, cpuMsPerCall: number, rates: number[]) => ({
  highestCleanRate,
  steps: rates.map((rate) => ({ rate })),
  atThatRate: highestCleanRate ? { rate: highestCleanRate, concurrentCallsHeld: highestCleanRate * 5, inviteTo183: { p50: 8, p99: 30 }, inviteTo200: { p50: 4.5, p99: 12 }, cpuMsPerCall } : null,
});

describe('bench report: the anchor, the hog, bench:bridge and the mixing ramp', () => {
  function withAnchor(): string {
    const dir = resultsDir({ mixing: true, others: true });
    writeFileSync(join(dir, 'calls.json'), JSON.stringify({
      date: '2026-11-22T10:05:00.000Z', machine: { cpus: 2 }, method: { holdMs: 5000 },
      highestRateNoFailedCall: 30, atThatRate: variant(30, 40, [10, 20, 30, 40]).atThatRate,
      variants: { parley: variant(30, 40, [10, 20, 30, 40]), anchor: variant(60, 12, [10, 20, 30, 40, 50, 60]), parleyHog: variant(0, 0, [10]), anchorHog: variant(20, 15, [10, 20, 30]) },
      cpuRatioParleyToAnchor: [{ rate: 10, a: 50, b: 14, ratio: 3.57 }, { rate: 30, a: 40, b: 12, ratio: 3.33 }],
      cpuRatioParleyToAnchorWithHog: [],
    }));
    writeFileSync(join(dir, 'bridge.json'), JSON.stringify({
      date: '2026-11-22T10:15:00.000Z',
      variants: { parley: variant(40, 20, [10, 20, 40, 60]), anchor: variant(80, 8, [10, 20, 40, 60, 80]) },
      cpuRatioParleyToAnchor: [{ rate: 40, a: 20, b: 8, ratio: 2.5 }],
    }));
    const m = JSON.parse(readFileSync(join(dir, 'mixing.json'), 'utf8')) as Record<string, unknown>;
    m.saturation = [
      { roomSize: 5, parley: { maxCleanLegs: 900, firstFailingLegs: null, generatorBound: false }, janus: { maxCleanLegs: 300, firstFailingLegs: 500, generatorBound: false } },
      { roomSize: 3, parley: { maxCleanLegs: 600, firstFailingLegs: 900, generatorBound: true }, janus: { maxCleanLegs: 0, firstFailingLegs: 90, generatorBound: false } },
    ];
    writeFileSync(join(dir, 'mixing.json'), JSON.stringify(m));
    return dir;
  }

  it('reads each variant, the ratio at the highest rate both were clean at, bridge.json and the ramps', () => {
    const s = buildSummary(withAnchor());
    assert.equal(s.date, '2026-11-22T10:15:00.000Z');
    assert.equal(s.calls!.highestRateNoFailedCall, 30);
    assert.equal(s.calls!.inviteTo183.p50, 8);
    assert.deepEqual(s.calls!.ratesTried, [10, 20, 30, 40]);
    assert.equal(s.calls!.anchor!.highestCleanRate, 60);
    assert.equal(s.calls!.parleyHog!.highestCleanRate, 0);
    assert.deepEqual(s.calls!.cpuRatio, { rate: 30, parleyMs: 40, anchorMs: 12, ratio: 3.33 });
    assert.equal(s.calls!.cpuRatioHog, null);
    assert.equal(s.bridge!.anchor!.cpuMsPerCall, 8);
    assert.equal(s.bridge!.cpuRatio!.ratio, 2.5);
    assert.deepEqual(s.mixing!.saturation.map((r) => [r.roomSize, r.parleyMaxCleanLegs, r.janusMaxCleanLegs, r.parleySaturated]), [[3, 600, 0, true], [5, 900, 300, false]]);
    assert.ok(Number.isNaN(s.mixing!.saturation[0].ratio));
    assert.equal(s.mixing!.saturation[1].ratio, 3);
  });

  it('puts the anchor in the other column, with the same-run ratios, and says what was not clean', () => {
    const table = benchTable(buildSummary(withAnchor()));
    assert.match(table, /highest call rate reached .*\| 30 calls\/s \| 60 calls\/s \|/);
    assert.match(table, /CPU per call at the same rate in the same run \(30 calls\/s\) \| 40\.0 ms \| 12\.0 ms \| \*\*3\.33×\*\* the CPU/);
    assert.match(table, /spinning on every core: .*\| none of 10 calls\/s \| 20 calls\/s; 15\.0 ms \|/);
    assert.match(table, /With the spinning process, CPU per call at the same rate in the same run \| no rate clean for both \|/);
    assert.match(table, /Bridged and recorded .*\| 40 calls\/s; 20\.0 ms \| 80 calls\/s; 8\.0 ms \|/);
    assert.match(table, /Bridged calls: CPU per call .*\(40 calls\/s\) \| 20\.0 ms \| 8\.0 ms \| \*\*2\.50×\*\*/);
    // ≥: Parley never saturated in rooms of 5; rooms of 3 ended on the generator.
    assert.match(table, /rooms of 5: most legs held .*\| ≥ 900 \| 300 \| \*\*3\.00×\*\*/);
    assert.match(table, /rooms of 3: most legs held .*load generator was near its own limit\) \| 600 \| 0 \| – \|/);
    assert.match(table, /bench:bridge 2026-11-22 10:15 UTC/);
    for (const r of table.split('\n').filter((l) => l.startsWith('|'))) assert.equal(r.split(' | ').length, 5, r);
  });

  it('reads an older calls.json (setup times under setupMs, no variants)', () => {
    const s = buildSummary(resultsDir());
    assert.equal(s.calls!.inviteTo183.p50, 9.8);
    assert.equal(s.calls!.anchor, null);
    assert.equal(s.bridge, null);
    assert.match(benchTable(s), /Bridged and recorded two-party calls \| not run/);
  });

  it('draws CPU per call against the anchor, one group per same-run ratio', () => {
    const bars = allElements(parseXml(renderSvg(buildSummary(withAnchor())))).filter((e) => e.attrs.class === 'bar' && e.attrs['data-series'] === 'Kamailio + rtpengine');
    assert.deepEqual(bars.map((b) => [b.attrs['data-group'], b.attrs['data-value']]), [['calls @30/s', '12'], ['bridge @40/s', '8']]);
  });
});

describe('bench report: SVG chart', () => {
  it('is well-formed XML with one bar per value, carrying the values', () => {
    const s = buildSummary(resultsDir());
    const svg = parseXml(renderSvg(s));
    assert.equal(svg.name, 'svg');
    const bars = allElements(svg).filter((e) => e.name === 'rect' && e.attrs.class === 'bar');
    // 3 room sizes × (Parley, Janus) + 2 × (p50, p99) + 3 recording figures.
    assert.equal(bars.length, 6 + 4 + 3);
    const values = (series: string) => bars.filter((b) => b.attrs['data-series'] === series).map((b) => Number(b.attrs['data-value']));
    assert.deepEqual(values('Parley'), [450, 420, 400]);
    assert.deepEqual(values('Janus AudioBridge'), [300, 280, 200]);
    assert.deepEqual(values('p99'), [40, 380]);
    // Taller bar for the larger value, within one panel.
    const h = (series: string) => bars.filter((b) => b.attrs['data-series'] === series).map((b) => Number(b.attrs.height));
    assert.ok(h('Parley')[0] > h('Janus AudioBridge')[0]);
    assert.ok(renderSvg(s).includes('Sample &amp; &lt;CPU&gt;'), 'text is escaped');
  });

  it('draws no bars, and says so, for benchmarks that did not run', () => {
    const svg = parseXml(renderSvg(buildSummary(resultsDir({ others: true }))));
    const els = allElements(svg);
    assert.equal(els.filter((e) => e.attrs.class === 'bar').length, 3);
    assert.ok(els.some((e) => e.name === 'text' && /bench:mixing did not run/.test(e.text)));
  });

  it('the checker refuses XML that is not well-formed', () => {
    assert.throws(() => parseXml('<svg><g></svg></g>'));
    assert.throws(() => parseXml('<svg><text>a & b</text></svg>'));
    assert.throws(() => parseXml('<svg a="1" a="2"/>'));
    assert.throws(() => parseXml('<svg/><svg/>'));
  });

  it('scales to round numbers', () => {
    assert.deepEqual([7, 12, 180, 451, 1000].map(niceMax), [10, 20, 200, 500, 1000]);
  });
});

describe('bench report: README table', () => {
  const readme = `# Title\n\nIntro.\n\n## Measured here\n\nHow it is measured.\n\n${START}\nold figures\n${END}\n\nMore prose.\n`;

  it('replaces only what is between the markers, and a second run changes nothing', () => {
    const table = benchTable(buildSummary(resultsDir()));
    const once = rewriteReadme(readme, table);
    assert.equal(rewriteReadme(once, table), once);
    assert.ok(once.startsWith(readme.slice(0, readme.indexOf(START) + START.length)));
    assert.ok(once.endsWith(readme.slice(readme.indexOf(END))));
    assert.ok(!once.includes('old figures'));
  });

  it('shows the command, the date and the Parley/Janus ratios', () => {
    const table = benchTable(buildSummary(resultsDir()));
    assert.match(table, /`npm run bench`/);
    assert.match(table, /2026-11-22 10:05 UTC/);
    assert.match(table, /rooms of 3: legs per core .*\| 450 \| 300 \| \*\*1\.50×\*\*/);
    assert.match(table, /rooms of 10: legs per core .*\| 400 \| 200 \| \*\*2\.00×\*\*/);
    assert.match(table, /20 calls\/s/);
    // Every row has the same number of cells as the header.
    const rows = table.split('\n').filter((l) => l.startsWith('|'));
    for (const r of rows) assert.equal(r.split(' | ').length, 5, r);
  });

  it('takes the largest step of bench:siprec: losses, CPU per session-second, the ratio, the load', () => {
    const dir = resultsDir({ others: true });
    const step = (sessions: number, lost: number) => ({
      sessions,
      parley: { packetsSent: sessions * 600, packetsLost: lost, cpuMsPerSessionSecond: 6.1, generatorMaxLagMs: 114, loadavg: [5.4, 5, 4] },
      rtpengine: { packetsLost: 0, cpuMsPerSessionSecond: 0.7 },
      cpuRatioParleyToRtpengine: 8.71,
    });
    writeFileSync(join(dir, 'siprec.json'), JSON.stringify({ bench: 'bench:siprec', at: '2026-11-22T12:00:00.000Z', steps: [step(25, 0), step(100, 3), step(50, 1)] }));
    const s = buildSummary(dir);
    assert.equal(s.sources.siprec, '2026-11-22T12:00:00.000Z');
    assert.deepEqual(s.siprec, { sessions: 100, packetsSent: 60000, parleyLost: 3, rtpengineLost: 0, parleyCpuMsPerSessionSecond: 6.1, rtpengineCpuMsPerSessionSecond: 0.7, cpuRatio: 8.71, generatorMaxLagMs: 114, load: 5.4 });
    const table = benchTable(s);
    assert.match(table, /SIPREC recording, 100 two-stream sessions .*packets lost of 60,000.*load 5\.4; the generator up to 114 ms late\) \| 3 lost; 6\.10 ms \| rtpengine: 0 lost; 0\.70 ms \| \*\*8\.71×\*\* the CPU \| bench:siprec \|/);
    assert.equal(buildSummary(resultsDir({ others: true })).siprec, null);
  });

  it('reads bench:floor: CPU per packet by relay, Parley over rtpengine without recording', () => {
    const dir = resultsDir({ others: true });
    const relay = (us: number) => ({ runs: [], usPerPacket: us, msPerFiveSecondCall: us / 2 });
    writeFileSync(join(dir, 'forward-floor.json'), JSON.stringify({ date: '2026-11-23T09:00:00.000Z', calls: 200, results: { rtpengine: relay(10.2), 'rtpengine-pcap': relay(11.2), node: relay(11.2), parley: relay(19.8) } }));
    const s = buildSummary(dir);
    assert.equal(s.sources.floor, '2026-11-23T09:00:00.000Z');
    // A run from before the parley-dgram relay: no figure for it, and the row says nothing of it.
    assert.deepEqual(s.floor, { calls: 200, parleyUs: 19.8, parleyDgramUs: null, nodeUs: 11.2, rtpengineUs: 10.2, rtpenginePcapUs: 11.2 });
    const table = benchTable(s);
    assert.match(table, /Two-party forwarding alone, 200 calls at once.*relay, each packet received and sent once: 11\.2 µs\): CPU per packet forwarded \| 19\.8 µs \| rtpengine: 10\.2 µs; with pcap 11\.2 µs \| \*\*1\.94×\*\* the CPU \| bench:floor \|/);
    writeFileSync(join(dir, 'forward-floor.json'), JSON.stringify({ date: '2026-11-23T09:00:00.000Z', calls: 200, results: { rtpengine: relay(11), 'rtpengine-pcap': relay(11.5), node: relay(10.9), parley: relay(15), 'parley-dgram': relay(23.1) } }));
    const withDgram = buildSummary(dir);
    assert.equal(withDgram.floor?.parleyDgramUs, 23.1);
    assert.match(benchTable(withDgram), /each packet received and sent once: 10\.9 µs; Parley with `media\.nativeIo` off, every packet through `node:dgram`: 23\.1 µs\): CPU per packet forwarded \| 15\.0 µs \| rtpengine: 11\.0 µs; with pcap 11\.5 µs \| \*\*1\.36×\*\* the CPU \|/);
    assert.equal(buildSummary(resultsDir({ others: true })).floor, null);
    assert.match(benchTable(buildSummary(resultsDir({ others: true }))), /Two-party forwarding alone against rtpengine \| not run/);
  });

  it('says which benchmarks did not run', () => {
    const table = benchTable(buildSummary(resultsDir({ others: true })));
    assert.match(table, /Mixing against Janus AudioBridge \| not run/);
    assert.match(table, /bench:mixing not run/);
  });

  it('says so when bench:calls ran but no rate was clean', () => {
    const dir = resultsDir({ others: true });
    writeFileSync(join(dir, 'calls.json'), JSON.stringify({ date: '2026-11-22T11:00:00.000Z', highestRateNoFailedCall: 0, atThatRate: null, steps: [{ rate: 20 }, { rate: 25 }] }));
    const s = buildSummary(dir);
    assert.match(benchTable(s), /none of the rates tried \(20, 25 calls\/s\)/);
    const svg = parseXml(renderSvg(s));
    assert.ok(allElements(svg).some((e) => e.name === 'text' && /no clean rate among 20, 25 calls\/s/.test(e.text)));
  });

  it('a room size without legs per core (too many late frames) shows a dash, not a number', () => {
    const dir = resultsDir({ others: true });
    writeFileSync(join(dir, 'mixing.json'), JSON.stringify({ date: '2026-11-22T11:00:00.000Z', cores: 2, method: 'sample', rooms: [{ roomSize: 3, legs: 60, parley: { ...side(400, 50), legsPerCore: null }, janus: side(300, 66), ratioLegsPerCore: null }] }));
    const s = buildSummary(dir);
    assert.match(benchTable(s), /rooms of 3: legs per core .*\| – \| 300 \| – \|/);
    const bars = allElements(parseXml(renderSvg(s))).filter((e) => e.attrs.class === 'bar' && e.attrs['data-group'] === 'rooms of 3');
    assert.deepEqual(bars.map((b) => b.attrs['data-value']), ['', '300']);
    assert.equal(Number(bars[0].attrs.height), 0);
    assert.ok(Number(bars[1].attrs.height) > 0);
  });

  it('refuses a README without the markers', () => {
    assert.throws(() => rewriteReadme('# no markers\n', 'x'), /bench:start/);
  });

  it('the project README has the markers, and rewriting it keeps everything outside them', () => {
    const real = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const out = rewriteReadme(real, 'TABLE');
    assert.equal(out.slice(0, out.indexOf(START)), real.slice(0, real.indexOf(START)));
    assert.equal(out.slice(out.indexOf(END)), real.slice(real.indexOf(END)));
  });
});

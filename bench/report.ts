// `node --import tsx bench/report.ts` (the last step of `npm run bench`): reads every
// bench/results/*.json, writes bench/results/summary.json and the chart
// bench/results/summary.svg, rewrites the table between <!-- bench:start --> and
// <!-- bench:end --> in README.md, and prints the Parley/Janus and Parley/anchor ratios.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchTable, rewriteReadme } from './lib/report/readme-table.ts';
import { buildSummary } from './lib/report/summary.ts';
import { renderSvg } from './lib/report/svg-chart.ts';

const root = resolve(new URL('..', import.meta.url).pathname);
const results = join(root, 'bench/results');
const summary = buildSummary(results);
writeFileSync(join(results, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
writeFileSync(join(results, 'summary.svg'), renderSvg(summary));
const readme = join(root, 'README.md');
writeFileSync(readme, rewriteReadme(readFileSync(readme, 'utf8'), benchTable(summary)));

for (const [name, date] of Object.entries(summary.sources)) if (!date) console.log(`report: no bench/results/${name}.json (bench:${name} did not run)`);
if (summary.mixing?.rooms.length) {
  for (const r of summary.mixing.rooms) {
    const lpc = (v: number | null): string => (v === null ? 'no figure (over 0.5 % late or missing frames)' : `${Math.round(v)} legs/core`);
    console.log(`mixing, rooms of ${r.roomSize}: Parley ${lpc(r.parley.legsPerCore)}, Janus ${lpc(r.janus.legsPerCore)}: Parley/Janus ${Number.isFinite(r.ratioLegsPerCore) ? `${r.ratioLegsPerCore.toFixed(2)}×` : '–'}`);
  }
}
if (summary.calls) {
  const c = summary.calls;
  console.log(c.highestRateNoFailedCall
    ? `call setup: ${c.highestRateNoFailedCall} calls/s without a failed call, ${c.concurrentCallsHeld} held; INVITE→200 p50/p99 ${c.inviteTo200.p50}/${c.inviteTo200.p99} ms; ${c.cpuMsPerCall} ms CPU per call`
    : `call setup: no clean rate among ${c.ratesTried.join(', ')} calls/s`);
}
if (summary.mixing?.saturation.length) {
  for (const r of summary.mixing.saturation) {
    console.log(`mixing ramp, rooms of ${r.roomSize}: Parley held ${r.parleySaturated ? '' : '≥ '}${r.parleyMaxCleanLegs} legs, Janus ${r.janusSaturated ? '' : '≥ '}${r.janusMaxCleanLegs}${r.generatorBound ? ' (the generator was near its limit)' : ''}`);
  }
}
for (const [name, r] of [['calls', summary.calls?.cpuRatio], ['calls with the hog', summary.calls?.cpuRatioHog], ['bridge', summary.bridge?.cpuRatio]] as const) {
  if (r) console.log(`${name}: CPU per call at ${r.rate} calls/s: Parley ${r.parleyMs} ms, Kamailio + rtpengine ${r.anchorMs} ms: ${r.ratio}×`);
}
console.log(`report: wrote bench/results/summary.json, bench/results/summary.svg and the README table`);

// Run: node --import tsx bench/adversary/tcp-flood.ts [count] [off] (MEDIASOUP_WORKER_BIN set; `off`: no per-source budget, sip.sourceBytesPerSecond and sip.sourceCpuMsPerSecond 0).
// One TCP connection sends N OPTIONS of ~60 KB (10,000 small headers) back to back to a whole Parley; main-thread loop delay.
import net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startParley } from '../../test/helpers/parley-harness.ts';
const N = Number(process.argv[2] ?? 300);
const p = await startParley('', { embedded: true, sip: process.argv[3] === 'off' ? ['sourceBytesPerSecond: 0', 'sourceCpuMsPerSecond: 0'] : [] });
const s = net.connect({ host: '127.0.0.1', port: p.sipPort });
await new Promise((r) => s.once('connect', r));
let got = 0, buf = '';
const done = new Promise<void>((resolve) => s.on('data', (d) => { buf += d.toString('latin1'); const m = buf.match(/^SIP\/2\.0 /gm); got = m ? m.length : 0; if (got >= N) resolve(); if (buf.length > 1e6) buf = buf.slice(-1000); }));
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
const elu0 = performance.eventLoopUtilization();
const t0 = performance.now();
for (let i = 0; i < N; i++) s.write(`OPTIONS sip:a@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5;branch=z9hG4bK${i}\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:b@c>\r\nCall-ID: x${i}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n${'X: a\r\n'.repeat(10000)}Content-Length: 0\r\n\r\n`);
await Promise.race([done, new Promise((r) => setTimeout(r, 60000))]);
console.log({ N, answered: got, ms: Math.round(performance.now() - t0), maxLoopMs: Math.round(h.max / 1e6), elu: performance.eventLoopUtilization(elu0).utilization.toFixed(2) });
s.destroy(); await p.stop(); process.exit(0);

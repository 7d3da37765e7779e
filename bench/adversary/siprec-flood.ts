// Run: node --import tsx bench/adversary/siprec-flood.ts [default|unlimited] [count] (MEDIASOUP_WORKER_BIN set).
// One SIPREC session's SRC sends N UPDATEs with ~60 KB of metadata back to back (each after the
// last's answer); records the main thread's event-loop delay (in-process) and the answers.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startParley } from '../../test/helpers/parley-harness.ts';
import { RawSipClient } from '../../test/helpers/raw-sip-client.ts';
import { RtpPeer } from '../../test/helpers/rtp-peer.ts';
import { multipart, paddedMetadata, RawSrc, sdp } from '../../test/e2e/adversary-src.ts';
import { SIPREC_ROUTING } from '../../test/e2e/siprec-helpers.ts';
const unlimited = process.argv[2] === 'unlimited';
const N = Number(process.argv[3] ?? 100);
const budget = unlimited ? '{ sessionBytesPerSecond: 1073741824, sessionBurstBytes: 1073741824, sourceBytesPerSecond: 1073741824, sourceBurstBytes: 1073741824 }' : '{ sessionBytesPerSecond: 32768, sessionBurstBytes: 262144, sourceBytesPerSecond: 524288, sourceBurstBytes: 2097152 }';
const p = await startParley(`${SIPREC_ROUTING}\nsiprec: { metadataBudget: ${budget} }\n`);
const META = 'application/rs-metadata+xml';
const ua = await RawSipClient.open();
const peer = await new RtpPeer({ codec: 'PCMU', latch: false }).bind();
const src = new RawSrc(ua, p.sipPort);
console.log('invite', await src.invite(multipart([['application/sdp', sdp(peer.port)], [META, paddedMetadata(1, 2000)]])));
const h = monitorEventLoopDelay({ resolution: 10 }); h.enable();
const counts: Record<number, number> = {};
const t0 = performance.now();
for (let i = 0; i < N; i++) { const s = await src.request('UPDATE', META, paddedMetadata(i + 2, 60000)); counts[s] = (counts[s] ?? 0) + 1; }
h.disable();
console.log({ unlimited, N, counts, ms: Math.round(performance.now() - t0), maxLoopMs: Math.round(h.max / 1e6), p99LoopMs: Math.round(h.percentile(99) / 1e6), meanLoopMs: +(h.mean / 1e6).toFixed(1) });
await src.request('BYE', null);
await p.stop(); ua.close(); await peer.close(); process.exit(0);

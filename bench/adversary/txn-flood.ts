// Run: node --expose-gc --import tsx bench/adversary/txn-flood.ts [OPTIONS|MESSAGE] [count] [body bytes]. One UDP socket sends out-of-dialog requests with new branches to an embedded SIP server (default timers): transactions kept, heap growth.
import { defaultConfig } from '../../src/config/schema.ts';
import { EmbeddedSipServer } from '../../src/sip/embedded-server.ts';
import { RawSipClient, request } from '../../test/helpers/raw-sip-client.ts';
import { testLogger } from '../../test/helpers/sip-harness.ts';
const method = process.argv[2] ?? 'OPTIONS';
const N = Number(process.argv[3] ?? 20000);
const server = await EmbeddedSipServer.start({ sip: { ...defaultConfig.sip, listen: [{ transport: 'udp', host: '127.0.0.1', port: 0 }], control: { host: '127.0.0.1', port: 0, secret: 'x' } }, log: testLogger() });
const port = server.sipPort('udp');
const c = await RawSipClient.open();
let answered = 0; (c as unknown as { socket: import('node:dgram').Socket }).socket.on('message', () => answered++);
global.gc?.(); const h0 = process.memoryUsage().heapUsed; const t0 = performance.now();
for (let i = 0; i < N; i++) { c.send(port, request(method, c.port, { 'Content-Type': 'text/plain' }, 'x'.repeat(Number(process.argv[4] ?? 0))).text); if (i % 100 === 0) await new Promise((r) => setImmediate(r)); }
await new Promise((r) => setTimeout(r, 2000));
global.gc?.();
console.log({ method, N, answered, ms: Math.round(performance.now() - t0), ...server.stats, heapMB: Math.round((process.memoryUsage().heapUsed - h0) / 1e6), rssMB: Math.round(process.memoryUsage().rss / 1e6) });
server.close(); c.close(); process.exit(0);

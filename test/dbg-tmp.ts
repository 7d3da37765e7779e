import net from 'node:net';
import { startHarness } from './helpers/sip-harness.ts';
const h = await startHarness();
process.on('exit', (c) => console.log('EXIT', c));
for (const junk of ['999999#junk', 'abc#', '10#1234567890', '5#x|sip', `20#${'z'.repeat(20)}`]) {
  console.log('case', junk);
  const s = net.connect({ host: '127.0.0.1', port: h.server.controlPort });
  s.on('error', (e) => console.log('err', e.message));
  await new Promise((r) => s.once('connect', r));
  const closed = new Promise((r) => s.once('close', r));
  s.on('data', (d) => console.log('data', d.toString()));
  s.write(junk);
  if (junk.startsWith('10#') || junk.startsWith('20#') || junk.startsWith('5#')) s.end();
  await closed;
  console.log('closed');
}
h.close();

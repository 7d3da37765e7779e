import { joinPeer, startEngine } from './helpers/media-harness.ts';
const engine = await startEngine();
const room = await engine.createRoom('x');
const p = await joinPeer(room, { codec: 'PCMU' });
const sock = (room as any).socket;
const pts = new Map<number, number>();
sock.on('message', (b: Buffer) => { const k = (b[1] & 0x7f); pts.set(k, (pts.get(k) ?? 0) + 1); });
await p.peer.waitForPackets(20);
for (const d of '123') p.peer.queueDtmf(d, 100);
await p.peer.waitForPackets(p.peer.received.length + 40);
console.log([...pts]);
const t = p.leg.transport as any;
for (const [ssrc, { producer, consumer }] of t.producers) { console.log(ssrc, JSON.stringify(producer.rtpParameters.codecs), JSON.stringify(consumer.rtpParameters.codecs), await producer.getStats()); }
engine.close(); await p.peer.close();

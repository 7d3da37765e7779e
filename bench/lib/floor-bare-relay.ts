// A child process for bench:floor (bench/forward-floor.ts): the least a Node relay of
// two-party calls can do with node:dgram. Per call two sockets; what arrives on the
// caller's socket goes out of the callee's to the callee's address (as an SDP would
// give it), what arrives on the callee's goes back to where the caller's first packet
// came from (latching). No parsing, no rewriting, no recording, no timers: only the
// cost of Node's UDP receive and send, which every Node media relay pays per packet.
import dgram from 'node:dgram';

interface Setup {
  calls: number;
  calleePort: number;
}

async function bind(): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  return s;
}

const sockets: dgram.Socket[] = [];

process.once('message', async (m: Setup) => {
  const ports: number[] = [];
  for (let i = 0; i < m.calls; i++) {
    const a = await bind();
    const b = await bind();
    sockets.push(a, b);
    let callerPort = 0;
    let callerIp = '';
    a.on('message', (msg, rinfo) => {
      if (callerPort === 0) {
        callerPort = rinfo.port;
        callerIp = rinfo.address;
      }
      b.send(msg, m.calleePort, '127.0.0.1');
    });
    b.on('message', (msg) => {
      if (callerPort !== 0) a.send(msg, callerPort, callerIp);
    });
    ports.push(a.address().port);
  }
  process.send!({ ports });
  process.once('message', () => {
    for (const s of sockets) s.close();
    process.exit(0);
  });
});

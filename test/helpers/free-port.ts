// Free ports for test peers: asks the kernel for one that is free on both UDP and TCP.
import dgram from 'node:dgram';
import net from 'node:net';

async function tryPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((r) => sock.close(() => r()));
    return port;
  } catch {
    return 0;
  }
}

const handed = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const p = await tryPort();
    if (p && !handed.has(p) && !handed.has(p - 2) && !handed.has(p + 2)) {
      handed.add(p);
      return p;
    }
  }
}

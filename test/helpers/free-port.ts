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

async function udpFree(port: number): Promise<boolean> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(port, '127.0.0.1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    try {
      sock.close();
    } catch {
      // never bound
    }
  }
}

/**
 * A media port for SIPp (-mp): SIPp binds it and port+2, so both must be free, and
 * they are taken from 20000-29999, away from the kernel's ephemeral ports and from
 * mediasoup's RTP range (40000-49999), where other tests' sockets come and go.
 */
export async function freeMediaPort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = 20000 + 2 * Math.floor(Math.random() * 4999);
    if (handed.has(p) || handed.has(p + 2)) continue;
    // Taken before the checks, which yield: calls made together (eight SIPp callers started at
    // once) could otherwise each check a pair overlapping another's and both get it (SIPp then
    // failed to bind its video port: "Address already in use").
    handed.add(p);
    handed.add(p + 2);
    if ((await udpFree(p)) && (await udpFree(p + 2)) && (await udpFree(p + 1)) && (await udpFree(p + 3))) return p;
    handed.delete(p);
    handed.delete(p + 2);
  }
  throw new Error('no free media port pair in 20000-29999');
}

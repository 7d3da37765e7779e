// The kernel's count of datagrams it dropped for a UDP socket (its receive
// buffer was full: the owning thread did not read fast enough), from
// /proc/net/udp (Linux), by local port on 127.0.0.1. A test that floods a
// socket can then account for every datagram it sent: counted by Parley, or
// dropped before Parley could see it, however the machine's load scheduled the reader.
import { readFile } from 'node:fs/promises';

export async function udpDrops(port: number): Promise<number> {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const lines = (await readFile('/proc/net/udp', 'utf8')).split('\n');
  for (const line of lines.slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) return Number(f[f.length - 1]);
  }
  throw new Error(`no UDP socket on 127.0.0.1:${port} in /proc/net/udp`);
}

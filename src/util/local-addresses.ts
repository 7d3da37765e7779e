// The addresses of this machine's network interfaces (loopback included), as a wildcard
// listener (0.0.0.0, ::) answers on every one of them.
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';

export function localAddresses(): Set<string> {
  const out = new Set<string>();
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (isIP(a.address)) out.add(a.address.toLowerCase());
  }
  return out;
}

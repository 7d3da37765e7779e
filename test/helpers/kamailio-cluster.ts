// Starts a real Kamailio (Debian) with examples/kamailio/parley-cluster.cfg in
// front of Parley nodes: dispatcher over the nodes (OPTIONS probes), 503 → next
// node, 302 → the room owner (uac_redirect).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort, runKamailio, type RunningKamailio } from './kamailio.ts';

export async function startKamailioCluster(nodes: string[], markerHeader = 'X-Parley-Leg'): Promise<RunningKamailio> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-kamailio-cluster-'));
  const port = await freeUdpPort();
  const list = join(dir, 'dispatcher.list');
  writeFileSync(list, nodes.map((n) => `1 sip:${n}\n`).join(''));
  const cfg = readFileSync(new URL('../../examples/kamailio/parley-cluster.cfg', import.meta.url), 'utf8')
    .replaceAll('LISTEN', `udp:127.0.0.1:${port}`)
    .replaceAll('DS_LIST', list)
    .replaceAll('PING_FROM', 'sip:kamailio@127.0.0.1')
    .replaceAll('MARKER_HDR', markerHeader);
  // "Listening on" comes before the modules initialize (a failed module makes it exit): wait for the UDP socket's set-up after them.
  return runKamailio(dir, port, cfg, /SO_RCVBUF is finally/);
}

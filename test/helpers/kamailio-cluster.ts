// Starts a real Kamailio (Debian) with examples/kamailio/parley-cluster.cfg in
// front of Parley nodes: with `redis`, an INVITE for a room with an owner goes
// straight to it (ndb_redis reads parley:owner:<room>); else, and without an
// owner, dispatcher over the nodes (OPTIONS probes), 503 → next node, 302 → the
// room owner (uac_redirect).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeUdpPort, runKamailio, type RunningKamailio } from './kamailio.ts';

export interface KamailioClusterOptions {
  /** `host:port` of the cluster's Redis: the owner is read from it. Without: the WITH_REDIS_OWNER define is dropped. */
  redis?: string;
  markerHeader?: string;
}

export interface RunningKamailioCluster extends RunningKamailio {
  /**
   * The dispatcher's destinations as Kamailio holds them (kamcmd dispatcher.list over a ctl
   * socket the test adds): flags `AX` active, not probed yet; `AP` active, its last OPTIONS probe
   * answered 2xx; `IP` inactive, its probe failed. Its log (debug=2) never names the probes.
   */
  destinations(): Promise<Array<{ uri: string; flags: string }>>;
}

export async function startKamailioCluster(nodes: string[], opts: KamailioClusterOptions = {}): Promise<RunningKamailioCluster> {
  const markerHeader = opts.markerHeader ?? 'X-Parley-Leg';
  const [redisHost = '127.0.0.1', redisPort = '6379'] = (opts.redis ?? '').split(':');
  const dir = mkdtempSync(join(tmpdir(), 'parley-kamailio-cluster-'));
  const port = await freeUdpPort();
  const list = join(dir, 'dispatcher.list');
  const ctl = join(dir, 'kamailio.ctl');
  writeFileSync(list, nodes.map((n) => `1 sip:${n}\n`).join(''));
  let cfg = readFileSync(new URL('../../examples/kamailio/parley-cluster.cfg', import.meta.url), 'utf8');
  if (!opts.redis) cfg = cfg.replace('#!define WITH_REDIS_OWNER\n', '');
  cfg = cfg
    .replaceAll('REDIS_HOST', redisHost)
    .replaceAll('REDIS_PORT', redisPort)
    .replaceAll('LISTEN', `udp:127.0.0.1:${port}`)
    .replaceAll('DS_LIST', list)
    .replaceAll('PING_FROM', 'sip:kamailio@127.0.0.1')
    .replaceAll('MARKER_HDR', markerHeader)
    // The test's window on the dispatcher's state (not part of the example: production has its own management).
    .replace('loadmodule "dispatcher.so"\n', `loadmodule "dispatcher.so"\nloadmodule "ctl.so"\nmodparam("ctl", "binrpc", "unix:${ctl}")\n`);
  // "Listening on" comes before the modules initialize (a failed module makes it exit): wait for the UDP socket's set-up after them.
  const kam = await runKamailio(dir, port, cfg, /SO_RCVBUF is finally/);
  return {
    ...kam,
    destinations: async () => {
      const { stdout } = await run('kamcmd', ['-s', `unix:${ctl}`, 'dispatcher.list']);
      return [...stdout.matchAll(/URI: (\S+)\s+FLAGS: (\S+)/g)].map((m) => ({ uri: m[1]!, flags: m[2]! }));
    },
  };
}

const run = promisify(execFile);

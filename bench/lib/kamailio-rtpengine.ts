// The anchor of bench:calls and bench:bridge: Kamailio (Debian) as a stateful proxy with
// its rtpengine module, in front of Debian's rtpengine-daemon in userspace (`table = -1`,
// no kernel forwarding) recording every call as pcap (`recording-method = pcap`,
// `record-call=on` in the offer and the answer) into a temporary folder. Both run as
// their own processes on loopback ports, so their CPU is read from /proc apart from
// SIPp's. Installed by scripts/bench-setup.sh (scripts/apt-ensure.sh rtpengine-daemon).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freeUdpPort } from '../../test/helpers/kamailio.ts';
import { treeCpu, type TreeCpu } from './proc-cpu.ts';

export interface KamailioRtpengine {
  /** Kamailio's SIP port on 127.0.0.1 (UDP). */
  sipPort: number;
  /** Kamailio's processes (its main process and the children it forks) and rtpengine's (all threads). */
  cpu(): { kamailio: TreeCpu; rtpengine: TreeCpu };
  /** Where rtpengine writes its pcaps. */
  pcapDir: string;
  /** The pcap files rtpengine wrote so far (file name → bytes). */
  pcaps(): Map<string, number>;
  version: string;
  log(): string;
  stop(): Promise<void>;
}

/**
 * In-dialog requests: SIPp sends its ACK and BYE straight to the Request-URI without the
 * Route set (it ignores Record-Route), so they are relayed to their Request-URI when
 * loose_route() finds no Route (RFC 3261 §16.12 would follow the Route set if there were one).
 */
function kamailioConfig(listen: string, ngPort: number): string {
  return `#!KAMAILIO
# bench anchor (written by bench/lib/kamailio-rtpengine.ts): stateful proxy, media through rtpengine, recorded.
debug=1
log_stderror=yes
fork=yes
children=2
auto_aliases=no
listen=${listen}
mpath="/usr/lib/x86_64-linux-gnu/kamailio/modules/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "rtpengine.so"
modparam("rr", "enable_full_lr", 1)
modparam("rtpengine", "rtpengine_sock", "udp:127.0.0.1:${ngPort}")

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (has_totag()) {
		loose_route();
		if (is_method("BYE")) rtpengine_delete();
		if (is_method("ACK")) {
			if (t_check_trans()) t_relay(); else forward();
			exit;
		}
		t_relay();
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			rtpengine_delete();
			t_relay();
		}
		exit;
	}
	record_route();
	if (is_method("INVITE") && has_body("application/sdp")) {
		rtpengine_offer("replace-origin replace-session-connection record-call=on");
		t_on_reply("MEDIA_REPLY");
		t_on_failure("MEDIA_FAILED");
	}
	if (!t_relay()) sl_reply_error();
	exit;
}

onreply_route[MEDIA_REPLY] {
	if (has_body("application/sdp")) rtpengine_answer("replace-origin replace-session-connection record-call=on");
}

failure_route[MEDIA_FAILED] {
	rtpengine_delete();
}
`;
}

async function waitFor(child: ChildProcess, output: () => string, ready: RegExp, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ready.test(output())) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}:\n${output().slice(-2000)}`);
    if (Date.now() > until) throw new Error(`${what} did not start in time:\n${output().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a UDP socket is bound to this port on IPv4 (read from /proc/net/udp, never probed by binding it). */
function udpBound(port: number): boolean {
  const local = new RegExp(`^\\s*\\d+: [0-9A-F]{8}:${port.toString(16).toUpperCase().padStart(4, '0')} `, 'm');
  try {
    return local.test(readFileSync('/proc/net/udp', 'latin1'));
  } catch {
    return false;
  }
}

function capture(child: ChildProcess): () => string {
  let out = '';
  // Only the start and the latest lines are kept: a long run must not grow the bench's heap.
  const add = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(0, 20_000) + '\n…\n' + out.slice(-100_000);
  };
  child.stdout!.on('data', add);
  child.stderr!.on('data', add);
  return () => out;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await once(child, 'exit');
  clearTimeout(timer);
}

export interface Rtpengine {
  ngPort: number;
  pid: number;
  /** Where rtpengine writes its pcaps. */
  pcapDir: string;
  /** The pcap files rtpengine wrote so far (file name → bytes). */
  pcaps(): Map<string, number>;
  log(): string;
  stop(): Promise<void>;
}

/** Starts Debian's rtpengine-daemon in userspace, recording pcap into `dir`/rtpengine-recordings. */
export async function startRtpengine(dir: string, rtpPorts = { min: 30000, max: 39999 }): Promise<Rtpengine> {
  const recordings = join(dir, 'rtpengine-recordings');
  mkdirSync(recordings, { recursive: true });
  const ngPort = await freeUdpPort();
  const rtpengineConf = join(dir, 'rtpengine.conf');
  writeFileSync(rtpengineConf, [
    '[rtpengine]',
    'table = -1',
    'interface = 127.0.0.1',
    `listen-ng = 127.0.0.1:${ngPort}`,
    `port-min = ${rtpPorts.min}`,
    `port-max = ${rtpPorts.max}`,
    // A call is forgotten (and its pcap closed) at its BYE, not 30 s later.
    'delete-delay = 0',
    'recording-method = pcap',
    `recording-dir = ${recordings}`,
    'log-level = 4',
    'log-stderr = true',
    'foreground = true',
    '',
  ].join('\n'));
  const rtpengine = spawn('rtpengine', [`--config-file=${rtpengineConf}`, `--pidfile=${join(dir, 'rtpengine.pid')}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const rtpLog = capture(rtpengine);
  try {
    // At log level 4 (warnings, as Parley runs at warn) rtpengine says nothing when it is
    // up: it is ready once the kernel lists its ng port as bound.
    await waitFor(rtpengine, () => (udpBound(ngPort) ? 'bound' : rtpLog()), /^bound$/, 'rtpengine');
  } catch (err) {
    await stopChild(rtpengine);
    throw err;
  }
  const pcapDir = join(recordings, 'pcaps');
  return {
    ngPort,
    pid: rtpengine.pid!,
    pcapDir,
    pcaps: () => {
      const out = new Map<string, number>();
      let names: string[] = [];
      try {
        names = readdirSync(pcapDir);
      } catch {
        return out;
      }
      for (const f of names) {
        try {
          out.set(f, statSync(join(pcapDir, f)).size);
        } catch {
          // removed meanwhile
        }
      }
      return out;
    },
    log: rtpLog,
    stop: () => stopChild(rtpengine),
  };
}

/** Debian's versions of Kamailio and rtpengine, for the results. */
export function anchorVersion(): string {
  try {
    return `Kamailio ${/kamailio (\S+)/.exec(execFileSync('kamailio', ['-v'], { encoding: 'utf8' }))?.[1] ?? '?'}, ` +
      `rtpengine ${/Version:\s*(\S+)/.exec(execFileSync('dpkg', ['-s', 'rtpengine-daemon'], { encoding: 'utf8' }))?.[1] ?? '?'}`;
  } catch {
    return 'Kamailio, rtpengine';
  }
}

/** Starts rtpengine, then Kamailio pointed at it; `dir` holds the configs, the recordings and the logs. */
export async function startKamailioRtpengine(dir: string, rtpPorts = { min: 30000, max: 39999 }): Promise<KamailioRtpengine> {
  const rtpengine = await startRtpengine(dir, rtpPorts);
  const sipPort = await freeUdpPort();
  const kamCfg = join(dir, 'kamailio.cfg');
  writeFileSync(kamCfg, kamailioConfig(`udp:127.0.0.1:${sipPort}`, rtpengine.ngPort));
  const kamailio = spawn('kamailio', ['-f', kamCfg, '-DD', '-E', '-Y', dir, '-w', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kamLog = capture(kamailio);
  try {
    await waitFor(kamailio, kamLog, /Listening on/, 'kamailio');
  } catch (err) {
    await stopChild(kamailio);
    await rtpengine.stop();
    throw err;
  }
  return {
    sipPort,
    version: anchorVersion(),
    pcapDir: rtpengine.pcapDir,
    cpu: () => ({ kamailio: treeCpu(kamailio.pid!), rtpengine: treeCpu(rtpengine.pid) }),
    pcaps: rtpengine.pcaps,
    log: () => `--- kamailio ---\n${kamLog()}\n--- rtpengine ---\n${rtpengine.log()}`,
    stop: async () => {
      await stopChild(kamailio);
      await rtpengine.stop();
    },
  };
}

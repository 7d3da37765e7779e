// Janus (Debian package `janus`) as a benchmark opponent: a private config
// folder in a temp dir (never /etc/janus), only the AudioBridge plugin and the
// plain HTTP transport loaded, everything bound to 127.0.0.1. stop() kills it
// and removes the folder; it is idempotent and also runs on process exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const LIB = '/usr/lib/x86_64-linux-gnu/janus';
const PLUGINS = `${LIB}/plugins`;
const TRANSPORTS = `${LIB}/transports`;
const KEEP_PLUGIN = 'libjanus_audiobridge.so';
const KEEP_TRANSPORT = 'libjanus_http.so';

export interface JanusOptions {
  /** AudioBridge's plain-RTP ports; Janus skips ports already taken. */
  rtpPortRange?: { min: number; max: number };
  /** Janus's log level (0–7); 3 is warnings, so logging costs it little. */
  debugLevel?: number;
}

/** The .so files of a folder other than `keep`, as Janus's `disable` list wants them. */
function othersIn(folder: string, keep: string): string {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.so') && f !== keep)
    .join(',');
}

async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class JanusServer {
  private exited = false;
  /** Janus's version_string from /info, e.g. "1.1.2". */
  version = 'unknown';
  private readonly onExit = (): void => this.stop();

  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    /** Base URL of the Janus HTTP API, e.g. http://127.0.0.1:PORT/janus. */
    readonly url: string,
  ) {
    child.once('exit', () => (this.exited = true));
    process.once('exit', this.onExit);
  }

  static available(): boolean {
    return existsSync(`${PLUGINS}/${KEEP_PLUGIN}`) && existsSync(`${TRANSPORTS}/${KEEP_TRANSPORT}`);
  }

  static async start(options: JanusOptions = {}): Promise<JanusServer> {
    const range = options.rtpPortRange ?? { min: 50000, max: 59999 };
    const dir = mkdtempSync(join(tmpdir(), 'parley-janus-'));
    const port = await freeTcpPort();
    writeFileSync(
      join(dir, 'janus.jcfg'),
      `general: {
  configs_folder = "${dir}"
  plugins_folder = "${PLUGINS}"
  transports_folder = "${TRANSPORTS}"
  events_folder = "${LIB}/events"
  loggers_folder = "${LIB}/loggers"
  debug_level = ${options.debugLevel ?? 3}
  debug_colors = false
  session_timeout = 60
}
media: {
  rtp_port_range = "${range.min}-${range.max}"
}
nat: {
  nice_debug = false
  ice_enforce_list = "lo"
}
plugins: {
  disable = "${othersIn(PLUGINS, KEEP_PLUGIN)}"
}
transports: {
  disable = "${othersIn(TRANSPORTS, KEEP_TRANSPORT)}"
}
events: {
  broadcast = false
}
`,
    );
    writeFileSync(
      join(dir, 'janus.transport.http.jcfg'),
      `general: {
  json = "plain"
  base_path = "/janus"
  http = true
  port = ${port}
  ip = "127.0.0.1"
  https = false
}
admin: {
  admin_http = false
  admin_https = false
}
`,
    );
    // Without local_ip the plugin guesses an address for its RTP sockets,
    // which need not be loopback; without a range it uses 10000-60000.
    writeFileSync(
      join(dir, 'janus.plugin.audiobridge.jcfg'),
      `general: {
  local_ip = "127.0.0.1"
  rtp_port_range = "${range.min}-${range.max}"
  events = false
}
`,
    );
    const logPath = join(dir, 'janus.log');
    const log = createWriteStream(logPath);
    const child = spawn('janus', ['-C', join(dir, 'janus.jcfg'), '-F', dir, '-o'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.pipe(log);
    child.stderr!.pipe(log);
    const server = new JanusServer(child, dir, `http://127.0.0.1:${port}/janus`);
    try {
      await server.waitReady(10_000, logPath);
    } catch (err) {
      server.stop();
      throw err;
    }
    return server;
  }

  get pid(): number {
    return this.child.pid!;
  }

  private async waitReady(timeoutMs: number, logPath: string): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.exited) throw new Error(`janus exited at start:\n${readFileSync(logPath, 'utf8').slice(-2000)}`);
      try {
        const res = await fetch(`${this.url}/info`);
        if (res.ok) {
          const info = (await res.json()) as { version_string?: string; plugins?: Record<string, unknown> };
          if (!info.plugins?.['janus.plugin.audiobridge']) throw new Error('janus started without its AudioBridge plugin');
          this.version = info.version_string ?? 'unknown';
          return;
        }
      } catch (err) {
        if (err instanceof Error && err.message.includes('AudioBridge')) throw err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`janus did not answer on ${this.url} within ${timeoutMs} ms`);
  }

  /** Kills Janus and removes its folder. Idempotent, synchronous (safe in 'exit' handlers). */
  stop(): void {
    process.off('exit', this.onExit);
    if (!this.exited) this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

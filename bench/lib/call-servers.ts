// The two servers of bench:calls and bench:bridge as CallServers (see call-load.ts):
// Parley as its own process (bench/lib/parley-server.ts) with WAV recordings checked stem
// by stem, and the Kamailio + rtpengine anchor (kamailio-rtpengine.ts) with its pcaps.
import { mkdirSync, readdirSync, renameSync, rmSync, truncateSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { CallServer, StepRecordings } from './call-load.ts';
import type { KamailioRtpengine } from './kamailio-rtpengine.ts';
import type { BenchParley } from './parley-server.ts';
import { checkPcaps } from './pcap-check.ts';
import { threadGroupsCpuMs, treeCpu } from './proc-cpu.ts';
import { checkRecordings, sidecarFiles } from './recording-check.ts';

/** prom-client's event-loop lag gauges as Parley names them (collectDefaultMetrics, prefix parley_process_). */
const LAG = 'parley_process_nodejs_eventloop_lag';

/**
 * A checked file leaves its folder without freeing its inode: emptied (its blocks freed) and
 * moved to `holding`, which the run removes at its end. Removing a step's few thousand files
 * at once made the next step's creates slower on this machine's ext4 (without a journal, it
 * skips every inode freed in the last ~35 s one by one when it allocates one): a cost of the
 * bench's clean-up, not of the server measured. Same for both servers.
 */
function retire(dir: string, file: string, holding: string): void {
  const path = join(dir, file);
  try {
    truncateSync(path, 0);
    mkdirSync(holding, { recursive: true });
    renameSync(path, join(holding, file.replace(/\//g, '_')));
  } catch {
    rmSync(path, { force: true });
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** keep: leave the recordings on disk (BENCH_KEEP=1); else each step's are removed once checked. */
export function parleyCallServer(parley: BenchParley, sipPort: number, recordings: string, keep: boolean): CallServer {
  let seen = new Set<string>();
  return {
    name: 'parley',
    sipPort,
    cpu: () => ({ parley: treeCpu(parley.pid) }),
    // The media and recording I/O threads name themselves (parley-media-N, parley-rec-io); `other` is V8's and libuv's helpers.
    threads: () => threadGroupsCpuMs(parley.pid, ['parley-media', 'parley-rec-io']),
    beginStep: () => {
      seen = new Set(sidecarFiles(recordings));
    },
    async waitIdle(timeoutMs) {
      const until = Date.now() + timeoutMs;
      while (Date.now() < until) {
        const m = await parley.metrics(['parley_calls_active', 'parley_recordings_open']);
        if ((m.get('parley_calls_active') ?? 0) === 0 && (m.get('parley_recordings_open') ?? 0) === 0) return true;
        await new Promise((r) => setTimeout(r, 250));
      }
      return false;
    },
    async endStep(answered) {
      const fresh = sidecarFiles(recordings).filter((f) => !seen.has(f));
      // Every stem of every recording is read: a recording counts only with sound in all of them.
      const rec = checkRecordings(recordings, fresh);
      // Checked; not kept (a step can leave a few hundred MB). Parley is idle, so all are this step's.
      // `.parley/` (signing key, audit log, index) stays: Parley is still running on it.
      if (!keep) for (const f of readdirSafe(recordings)) if (!f.startsWith('.')) retire(recordings, f, join(dirname(recordings), 'checked-recordings'));
      const out: StepRecordings = {
        files: rec.sidecars,
        withSoundBothWays: rec.withAudioBothWays,
        // A recording without sound counts as none: that is the failure a recorder must not have.
        answeredWithoutSound: answered.filter((n) => !rec.callNumbersWithSound.has(n)).length,
        problems: rec.problems,
      };
      return out;
    },
    async gauges() {
      // Only the two gauges (a full scrape also renders every leg's RTP gauges): the bench's probe, not the workload.
      const m = await parley.metrics(['parley_calls_active', 'parley_legs']);
      return { calls: m.get('parley_calls_active') ?? 0, legs: m.get('parley_legs') ?? 0 };
    },
    gc: () => parley.gc(),
    async threadMessages() {
      const out: Record<string, number> = {};
      for (const [labels, n] of await parley.labelled('parley_media_thread_messages')) {
        const dir = /direction="(\w+)"/.exec(labels)?.[1] === 'to_thread' ? 'to' : 'from';
        out[`${dir} ${/type="([^"]*)"/.exec(labels)?.[1] ?? '?'}`] = n;
      }
      return out;
    },
    async loopDelay() {
      // Reading the lag gauge makes prom-client copy its perf_hooks histogram into the
      // min/max/percentile gauges and restart it: the figures cover the time since the last read.
      await parley.metrics([`${LAG}_seconds`]);
      const m = await parley.metrics([`${LAG}_p50_seconds`, `${LAG}_p99_seconds`, `${LAG}_max_seconds`]);
      const ms = (name: string): number => Math.round((m.get(`${LAG}_${name}_seconds`) ?? NaN) * 1e4) / 10;
      return { p50: ms('p50'), p99: ms('p99'), max: ms('max') };
    },
  };
}

export function anchorCallServer(anchor: KamailioRtpengine, keep: boolean): CallServer {
  let seen = new Set<string>();
  return {
    name: 'kamailio+rtpengine',
    sipPort: anchor.sipPort,
    cpu: () => anchor.cpu(),
    beginStep: () => {
      seen = new Set(anchor.pcaps().keys());
    },
    async waitIdle(timeoutMs) {
      // rtpengine closes a call's pcap at the BYE (delete-delay = 0); idle once no pcap grows for a second.
      const until = Date.now() + timeoutMs;
      let last = '';
      let stableSince = Date.now();
      while (Date.now() < until) {
        const now = JSON.stringify([...anchor.pcaps()]);
        if (now !== last) {
          last = now;
          stableSince = Date.now();
        } else if (Date.now() - stableSince >= 1000) return true;
        await new Promise((r) => setTimeout(r, 250));
      }
      return false;
    },
    async endStep(answered) {
      const fresh = [...anchor.pcaps().keys()].filter((f) => !seen.has(f));
      const rec = await checkPcaps(anchor.pcapDir, fresh);
      if (!keep) for (const f of fresh) retire(anchor.pcapDir, f, join(dirname(anchor.pcapDir), 'checked-pcaps'));
      return {
        files: rec.files,
        withSoundBothWays: rec.withSoundBothWays,
        answeredWithoutSound: answered.filter((n) => !rec.callNumbers.has(n)).length,
        problems: rec.problems,
      };
    },
  };
}

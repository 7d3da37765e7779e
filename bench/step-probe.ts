// What one process did during a bench step: CPU time, event-loop delay and GC pauses. The SIP
// bench runs one in its own process (the server) and one in the app process, and reads SIPp's
// CPU time from /proc, so each step says which of the three was busy and where the tail came from.
import { readFileSync } from 'node:fs';
import { PerformanceObserver, monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

export interface StepStats {
  /** CPU time (user + system) over wall time, in percent of one core. */
  cpuPct: number;
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gcCount: number;
  gcTotalMs: number;
  gcMaxMs: number;
  /** V8 heap in use when the step ended: what the process keeps per call (transactions live 32 s after it). */
  heapUsedMb: number;
}

export class StepProbe {
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 1 });
  private readonly gc: PerformanceObserver;
  private gcCount = 0;
  private gcTotal = 0;
  private gcMax = 0;
  private cpu = process.cpuUsage();
  private wall = performance.now();

  constructor() {
    this.gc = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        this.gcCount++;
        this.gcTotal += e.duration;
        this.gcMax = Math.max(this.gcMax, e.duration);
      }
    });
    this.gc.observe({ entryTypes: ['gc'] });
    this.loop.enable();
  }

  reset(): void {
    this.loop.reset();
    this.gcCount = this.gcTotal = this.gcMax = 0;
    this.cpu = process.cpuUsage();
    this.wall = performance.now();
  }

  snapshot(): StepStats {
    const c = process.cpuUsage(this.cpu);
    const wallMs = performance.now() - this.wall;
    return {
      cpuPct: round1(((c.user + c.system) / 1000 / wallMs) * 100),
      loopDelayP50Ms: round1(this.loop.percentile(50) / 1e6),
      loopDelayP99Ms: round1(this.loop.percentile(99) / 1e6),
      loopDelayMaxMs: round1(this.loop.max / 1e6),
      gcCount: this.gcCount,
      gcTotalMs: round1(this.gcTotal),
      gcMaxMs: round1(this.gcMax),
      heapUsedMb: round1(process.memoryUsage().heapUsed / 1048576),
    };
  }

  stop(): void {
    this.loop.disable();
    this.gc.disconnect();
  }
}

// Re-exported for sip-bench.ts: one /proc reader for every benchmark.
export { processCpuMs } from './lib/proc-cpu.ts';

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** The machine-wide count of UDP datagrams dropped for a full receive buffer (/proc/net/snmp). */
export function udpRcvbufErrors(): number | null {
  try {
    const lines = readFileSync('/proc/net/snmp', 'latin1').split('\n').filter((l) => l.startsWith('Udp:'));
    const names = lines[0].split(/\s+/);
    const values = lines[1].split(/\s+/);
    return Number(values[names.indexOf('RcvbufErrors')]);
  } catch {
    return null;
  }
}

// The rtpengine side of bench:siprec. rtpengine is not a SIPREC recording server, so
// the comparison is the same number of two-stream sessions and the same generator
// packets, recorded by rtpengine as pcap: each session is one rtpengine call set up
// over its ng control protocol (offer from the "SRC" with two sendonly m-lines, answer
// from a sink with two recvonly m-lines, `record call: yes` in both), the generator
// sends both streams to the ports rtpengine gave the SRC, rtpengine records them
// (userspace, `table = -1`, `recording-method = pcap`) and relays them to the sink (a
// socket nobody reads: the kernel drops what overflows, nobody spends CPU on it), and
// `delete` ends the call and closes its pcap. Lost = packets sent minus the packets in
// the session's pcap addressed to each stream's port. CPU: rtpengine's process (all
// its threads) over the hold, from /proc.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { Rtpengine } from './kamailio-rtpengine.ts';
import { addStreamLoss, pcapFlows, type StreamLoss } from './pcap-check.ts';
import { cpuBetween, percentile, treeCpu } from './proc-cpu.ts';
import type { RtpengineNg } from './rtpengine-ng.ts';
import { newStreamSet, streamTones, type ToneStreamSet } from './tone-streams.ts';

/** A UDP port bound by a process that never reads it: a Node process whose only thread blocks once it has said its port. */
export async function startSink(): Promise<{ port: number; stop(): void }> {
  const code = "const d=require('dgram').createSocket('udp4');d.bind(0,'127.0.0.1',()=>process.stdout.write(d.address().port+'\\n',()=>Atomics.wait(new Int32Array(new SharedArrayBuffer(4)),0,0)))";
  const child: ChildProcess = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  process.once('exit', () => child.kill('SIGKILL'));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
    child.once('exit', (code) => reject(new Error(`the sink exited with ${code}`)));
  });
  return { port, stop: () => child.kill('SIGKILL') };
}

function sdp(port: number, direction: 'sendonly' | 'recvonly'): string {
  return ['v=0', `o=bench 1 1 IN IP4 127.0.0.1`, 's=bench', 'c=IN IP4 127.0.0.1', 't=0 0',
    ...[0, 1].flatMap((k) => [`m=audio ${port} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', `a=label:${k + 1}`, `a=${direction}`])].join('\r\n') + '\r\n';
}

export async function rtpengineStep(n: number, o: { rtp: Rtpengine; ng: RtpengineNg; sinkPort: number; payloads: Buffer[][]; holdMs: number; setupRate: number }): Promise<Record<string, unknown>> {
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const genPort = udp.address().port;
  const sessions: { callId: string; set: ToneStreamSet; setupMs: number | null }[] = [];
  const firstError: string[] = [];
  const t0 = performance.now();
  let lastOk = t0;
  const pending: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const s = { callId: `rtpe-${n}-${i}-${process.pid}`, set: newStreamSet(2), setupMs: null as number | null };
    sessions.push(s);
    const wait = t0 + (i * 1000) / o.setupRate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const at = performance.now();
    pending.push((async () => {
      try {
        await o.ng.command({ command: 'offer', 'call-id': s.callId, 'from-tag': 'src', sdp: sdp(genPort, 'sendonly'), 'record call': 'yes' });
        const a = await o.ng.command({ command: 'answer', 'call-id': s.callId, 'from-tag': 'src', 'to-tag': 'srs', sdp: sdp(o.sinkPort, 'recvonly'), 'record call': 'yes' });
        s.set.ports = [...String(a.sdp).matchAll(/^m=audio (\d+)/gm)].map((m) => Number(m[1]));
        lastOk = performance.now();
        s.setupMs = lastOk - at;
      } catch (err) {
        if (firstError.length === 0) firstError.push((err as Error).message);
      }
    })());
  }
  await Promise.all(pending);
  const answered = sessions.filter((s) => s.setupMs !== null && s.set.ports.length === 2);
  const cpu0 = treeCpu(o.rtp.pid);
  const gen = await streamTones(udp, answered.map((s) => s.set), o.payloads, o.holdMs);
  const cpu1 = treeCpu(o.rtp.pid);
  await new Promise((r) => setTimeout(r, 300));
  for (const s of answered) {
    await o.ng.command({ command: 'delete', 'call-id': s.callId, 'from-tag': 'src' }).catch((err: Error) => {
      if (firstError.length === 0) firstError.push(err.message);
    });
  }
  udp.close();
  // Each call's pcap is named after its Call-ID; read them once every call is deleted.
  const files = [...o.rtp.pcaps().keys()];
  const loss: StreamLoss = { sent: 0, recorded: 0, lost: 0 };
  let missing = 0;
  for (const s of answered) {
    const file = files.find((f) => f.startsWith(`${s.callId}-`));
    const flows = file ? pcapFlows(await readFile(join(o.rtp.pcapDir, file))) : null;
    if (!flows) missing++;
    for (let k = 0; k < 2; k++) {
      addStreamLoss(loss, s.set.sent[k]!, Math.min(s.set.sent[k]!, flows?.byDestinationPort.get(s.set.ports[k]!) ?? 0));
    }
  }
  const setups = answered.map((s) => s.setupMs!).sort((a, b) => a - b);
  const used = cpuBetween(cpu0, cpu1);
  const cpuMs = used.mainMs + used.childrenMs;
  const perSessionSecond = cpuMs / Math.max(1, answered.length) / (gen.wallMs / 1000);
  const r = {
    sessions: n,
    answered: answered.length,
    failed: n - answered.length,
    ...(firstError.length ? { firstError: firstError[0] } : {}),
    setupRateOffered: o.setupRate,
    setupRateAchieved: Math.round((answered.length / ((lastOk - t0) / 1000)) * 10) / 10,
    setupMsP50: Math.round(percentile(setups, 50) * 10) / 10,
    setupMsP99: Math.round(percentile(setups, 99) * 10) / 10,
    holdMs: Math.round(gen.wallMs),
    rtpengineCpuPercent: Math.round((cpuMs / gen.wallMs) * 1000) / 10,
    cpuMsPerSessionSecond: Math.round(perSessionSecond * 100) / 100,
    sessionsPerCore: Math.round(1000 / perSessionSecond),
    packetsSent: loss.sent,
    packetsRecorded: loss.recorded,
    packetsLost: loss.lost,
    generatorMaxLagMs: Math.round(gen.maxLagMs),
    generatorFramesOver60msLate: gen.lateFrames,
    pcapsMissing: missing,
    loadavg: loadavg().map((x) => Math.round(x * 100) / 100),
  };
  console.log(`rtpengine, ${n} sessions: setup (offer+answer) p50 ${r.setupMsP50} ms p99 ${r.setupMsP99} ms at ${r.setupRateAchieved}/s; rtpengine ${r.rtpengineCpuPercent} % CPU, ${r.cpuMsPerSessionSecond} ms per session-second (${r.sessionsPerCore} sessions per core); ${r.packetsSent} packets sent, ${r.packetsLost} lost in the pcaps (generator: max lag ${r.generatorMaxLagMs} ms, ${r.generatorFramesOver60msLate} frames > 60 ms late); load ${r.loadavg.join(' ')}`);
  return r;
}

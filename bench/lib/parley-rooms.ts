// The Parley side of the mixing benches: rooms of k legs in a MediaEngine,
// each leg created from an SDP offer pointing at one of the load generator's
// ports, exactly as a SIP INVITE would create it.
import type { MediaEngine } from '../../src/media-plane/media-engine.ts';
import type { MediaRoom } from '../../src/media-plane/media-room.ts';
import type { ClockStats } from '../../src/mixer/mix-clock.ts';
import type { RtpTarget } from './load-generator.ts';

export function offerSdp(port: number): string {
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:101 telephone-event/8000', 'a=ptime:20', 'a=rtcp-mux'].join('\r\n') + '\r\n';
}

export interface ParleyRooms {
  rooms: MediaRoom[];
  /** Where leg i's RTP goes (Parley's side of leg i). */
  targets: RtpTarget[];
  /** Processes doing Parley's media work: this Node process and the mediasoup workers. */
  pids: number[];
  close(): void;
}

/** Opens ceil(n / k) rooms; leg i (peer port peerPorts[i]) joins room floor(i / k). */
export async function openParleyRooms(engine: MediaEngine, peerPorts: number[], k: number, prefix = 'bench'): Promise<ParleyRooms> {
  const rooms: MediaRoom[] = [];
  const targets: RtpTarget[] = [];
  for (let i = 0; i < peerPorts.length; i++) {
    if (i % k === 0) rooms.push(await engine.createRoom(`${prefix}-${i / k}`));
    const { answer } = await rooms[rooms.length - 1].createLeg(offerSdp(peerPorts[i]), { id: `leg-${i}` });
    const port = Number(/m=audio (\d+)/.exec(answer)![1]);
    const host = /c=IN IP4 (\S+)/.exec(answer)?.[1] ?? '127.0.0.1';
    targets.push({ host, port });
  }
  return {
    rooms,
    targets,
    pids: [process.pid, ...engine.workerPids],
    close: () => rooms.forEach((r) => r.close()),
  };
}

/** The rooms' mixer clock statistics summed, as a snapshot. */
export function sumClockStats(rooms: MediaRoom[]): ClockStats {
  const s: ClockStats = { ticks: 0, late: 0, skipped: 0, maxLateMs: 0, busyMs: 0 };
  for (const r of rooms) {
    const m = r.mixerStats;
    s.ticks += m.ticks;
    s.late += m.late;
    s.skipped += m.skipped;
    s.busyMs += m.busyMs;
    s.maxLateMs = Math.max(s.maxLateMs, m.maxLateMs);
  }
  return s;
}

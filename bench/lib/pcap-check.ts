// Checks the anchor's recordings: rtpengine (recording-method = pcap) writes one pcap per
// call, named after the Call-ID (SIPp's Call-IDs start with the call number). A call's
// recording "has sound both ways" when the pcap holds at least half a second of RTP (25
// packets) from each of two different sources: the caller's stream and the callee's echo.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PcapFlows {
  packets: number;
  /** RTP packets by source "ip:port". */
  bySource: Map<string, number>;
  /** UDP packets by destination port (the recorder's port each stream was sent to). */
  byDestinationPort: Map<number, number>;
}

/** Parses a classic pcap (LINKTYPE_RAW 101 / 228, or Ethernet 1): UDP packets by source. */
export function pcapFlows(b: Buffer): PcapFlows {
  const out: PcapFlows = { packets: 0, bySource: new Map(), byDestinationPort: new Map() };
  if (b.length < 24) return out;
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const u32 = (o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = u32(20);
  const ipOffset = link === 1 ? 14 : 0;
  for (let o = 24; o + 16 <= b.length;) {
    const incl = u32(o + 8);
    const p = o + 16;
    o = p + incl;
    if (o > b.length) break;
    const ip = p + ipOffset;
    if (ip + 28 > p + incl || b[ip] >> 4 !== 4 || b[ip + 9] !== 17) continue;
    const ihl = (b[ip] & 0x0f) * 4;
    const src = `${b[ip + 12]}.${b[ip + 13]}.${b[ip + 14]}.${b[ip + 15]}:${b.readUInt16BE(ip + ihl)}`;
    out.packets++;
    out.bySource.set(src, (out.bySource.get(src) ?? 0) + 1);
    const dst = b.readUInt16BE(ip + ihl + 2);
    out.byDestinationPort.set(dst, (out.byDestinationPort.get(dst) ?? 0) + 1);
  }
  return out;
}

export interface PcapRecordingCheck {
  files: number;
  /** Pcaps with at least 25 packets from each of two sources. */
  withSoundBothWays: number;
  callNumbers: Set<number>;
  problems: string[];
}

const MIN_PACKETS = 25;

export async function checkPcaps(dir: string, files: string[]): Promise<PcapRecordingCheck> {
  const r: PcapRecordingCheck = { files: files.length, withSoundBothWays: 0, callNumbers: new Set(), problems: [] };
  for (const f of files) {
    const n = Number(/^(\d+)-/.exec(f)?.[1]);
    let flows: PcapFlows;
    try {
      flows = pcapFlows(await readFile(join(dir, f)));
    } catch (err) {
      if (r.problems.length < 5) r.problems.push(`${f}: ${(err as Error).message}`);
      continue;
    }
    const sources = [...flows.bySource.values()].filter((c) => c >= MIN_PACKETS).length;
    if (sources >= 2) {
      r.withSoundBothWays++;
      if (Number.isFinite(n)) r.callNumbers.add(n);
    } else if (r.problems.length < 5) {
      r.problems.push(`${f}: ${flows.packets} packets from ${flows.bySource.size} sources (${[...flows.bySource.values()].join('/')})`);
    }
  }
  return r;
}

/** Packets sent on streams and what a recording holds of them (pcap packets, or 20 ms frames with the tone in a stem). */
export interface StreamLoss {
  sent: number;
  recorded: number;
  lost: number;
}

/** Adds one stream: `sent` packets of which the recording holds `recorded`; lost = sent - recorded, never below 0. */
export function addStreamLoss(t: StreamLoss, sent: number, recorded: number): void {
  t.sent += sent;
  t.recorded += recorded;
  t.lost += Math.max(0, sent - recorded);
}

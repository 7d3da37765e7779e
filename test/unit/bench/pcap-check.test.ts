// bench/lib/pcap-check.ts: the anchor's pcap recordings read packet by packet (raw IP and
// Ethernet link types, either byte order), and a call counted as recorded both ways only
// with enough RTP from two sources. Pcaps are built here byte by byte.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { checkPcaps, pcapFlows } from '../../../bench/lib/pcap-check.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** An IPv4 UDP packet from 127.0.0.1:srcPort carrying `payload` bytes. */
function udp(srcPort: number, payload = 172, protocol = 17): Buffer {
  const b = Buffer.alloc(20 + 8 + payload);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b[8] = 64;
  b[9] = protocol;
  b.set([127, 0, 0, 1], 12);
  b.set([127, 0, 0, 1], 16);
  b.writeUInt16BE(srcPort, 20);
  b.writeUInt16BE(40000, 22);
  b.writeUInt16BE(8 + payload, 24);
  return b;
}

function pcap(packets: Buffer[], o: { link?: number; bigEndian?: boolean } = {}): Buffer {
  const link = o.link ?? 101;
  const w32 = (b: Buffer, v: number, at: number): void => void (o.bigEndian ? b.writeUInt32BE(v, at) : b.writeUInt32LE(v, at));
  const head = Buffer.alloc(24);
  w32(head, 0xa1b2c3d4, 0);
  w32(head, 65535, 16);
  w32(head, link, 20);
  const parts: Buffer[] = [head];
  for (const p of packets) {
    const frame = link === 1 ? Buffer.concat([Buffer.alloc(14), p]) : p;
    const rec = Buffer.alloc(16);
    w32(rec, frame.length, 8);
    w32(rec, frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}

const both = (a: number, b: number): Buffer[] => [...Array.from({ length: a }, () => udp(10000)), ...Array.from({ length: b }, () => udp(20000))];

describe('pcap check', () => {
  it('counts UDP packets by source, raw IP or Ethernet, little or big endian', () => {
    for (const o of [{}, { link: 1 }, { bigEndian: true }, { link: 1, bigEndian: true }]) {
      const f = pcapFlows(pcap(both(3, 5), o));
      assert.equal(f.packets, 8, JSON.stringify(o));
      assert.deepEqual([...f.bySource], [['127.0.0.1:10000', 3], ['127.0.0.1:20000', 5]]);
      assert.deepEqual([...f.byDestinationPort], [[40000, 8]]);
    }
  });

  it('skips what is not UDP and stops at a truncated record', () => {
    const full = pcap([udp(10000), udp(10000, 172, 6), udp(20000)]);
    assert.equal(pcapFlows(full).packets, 2);
    assert.equal(pcapFlows(full.subarray(0, full.length - 10)).packets, 1);
    assert.equal(pcapFlows(Buffer.alloc(10)).packets, 0);
  });

  it('counts a call only with enough RTP from both ends, by the call number in its name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-pcap-'));
    dirs.push(dir);
    writeFileSync(join(dir, '7-123%40127.0.0.1-aa.pcap'), pcap(both(60, 60)));
    writeFileSync(join(dir, '8-123%40127.0.0.1-bb.pcap'), pcap(both(60, 3)));
    writeFileSync(join(dir, '9-123%40127.0.0.1-cc.pcap'), pcap(both(120, 0)));
    const r = await checkPcaps(dir, ['7-123%40127.0.0.1-aa.pcap', '8-123%40127.0.0.1-bb.pcap', '9-123%40127.0.0.1-cc.pcap', '10-missing.pcap']);
    assert.equal(r.files, 4);
    assert.equal(r.withSoundBothWays, 1);
    assert.deepEqual([...r.callNumbers], [7]);
    assert.equal(r.problems.length, 3);
    assert.match(r.problems.join('\n'), /8-.*63 packets from 2 sources \(60\/3\)/);
    assert.match(r.problems.join('\n'), /10-missing\.pcap: ENOENT/);
  });
});

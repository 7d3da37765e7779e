// A small authoritative DNS server on loopback UDP for tests of RFC 3263 resolution: it
// answers A, AAAA, SRV and NAPTR questions from a table, NXDOMAIN for names it does not
// have, an empty answer (NODATA) for a type a name lacks, and nothing at all for names
// listed as silent (a server that does not answer). Every question is logged.
import dgram from 'node:dgram';

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface NaptrData {
  order: number;
  preference: number;
  flags: string;
  service: string;
  regexp: string;
  replacement: string;
}

export interface Zone {
  A?: Record<string, string[]>;
  SRV?: Record<string, SrvData[]>;
  NAPTR?: Record<string, NaptrData[]>;
  /** Names whose questions get no answer. */
  silent?: string[];
}

const TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR' };

export class TestDnsServer {
  /** Every question asked, as `TYPE name`. */
  readonly questions: string[] = [];

  private constructor(
    private readonly socket: dgram.Socket,
    readonly zone: Zone,
  ) {}

  static async start(zone: Zone): Promise<TestDnsServer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
    const s = new TestDnsServer(socket, zone);
    socket.on('message', (m, rinfo) => {
      const answer = s.answer(m);
      if (answer) socket.send(answer, rinfo.port, rinfo.address);
    });
    return s;
  }

  /** `127.0.0.1:port`, as sip.dns.servers takes it. */
  get address(): string {
    return `127.0.0.1:${this.socket.address().port}`;
  }

  close(): void {
    this.socket.close();
  }

  private answer(q: Buffer): Buffer | null {
    if (q.length < 12) return null;
    const [name, end] = readName(q, 12);
    const type = q.readUInt16BE(end);
    const lower = name.toLowerCase();
    this.questions.push(`${TYPES[type] ?? type} ${lower}`);
    if (this.zone.silent?.includes(lower)) return null;
    const known = [this.zone.A, this.zone.SRV, this.zone.NAPTR].some((t) => t && lower in t);
    const records: Buffer[] = [];
    if (type === 1) for (const ip of this.zone.A?.[lower] ?? []) records.push(Buffer.from(ip.split('.').map(Number)));
    if (type === 33) {
      for (const r of this.zone.SRV?.[lower] ?? []) records.push(Buffer.concat([u16(r.priority), u16(r.weight), u16(r.port), writeName(r.target)]));
    }
    if (type === 35) {
      for (const r of this.zone.NAPTR?.[lower] ?? []) {
        records.push(Buffer.concat([u16(r.order), u16(r.preference), text(r.flags), text(r.service), text(r.regexp), writeName(r.replacement)]));
      }
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(q.readUInt16BE(0), 0);
    // QR, AA, RD copied, RA; NXDOMAIN for an unknown name.
    header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | 0x0080 | (known ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(records.length, 6);
    const question = q.subarray(12, end + 4);
    const answers = records.map((rdata) => Buffer.concat([Buffer.from([0xc0, 0x0c]), u16(type), u16(1), u32(60), u16(rdata.length), rdata]));
    return Buffer.concat([header, question, ...answers]);
  }
}

function readName(b: Buffer, at: number): [string, number] {
  const labels: string[] = [];
  let i = at;
  while (b[i]! > 0) {
    labels.push(b.subarray(i + 1, i + 1 + b[i]!).toString('latin1'));
    i += 1 + b[i]!;
  }
  return [labels.join('.'), i + 1];
}

function writeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p, 'latin1')])), Buffer.from([0])]);
}

function text(s: string): Buffer {
  return Buffer.concat([Buffer.from([s.length]), Buffer.from(s, 'latin1')]);
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

// The kinds of input issue 12's adversarial run used, as deterministic generators for the
// fuzz tests: requests with a single-valued header twice, INVITEs whose offer is on hold or
// send-only, INVITEs with no offer at all (delayed offer), and forged responses meant to be
// reflected (a z9hG4bKsl branch Parley never made, whose next Via names a victim). Every
// request names `client` in its Via and Contact, so Parley's answers and BYEs go there.
import { Mutator } from './mutator.ts';

export type HostileKind = 'duplicated-headers' | 'hold-offers' | 'delayed-offers' | 'response-reflection';

export const HOSTILE_KINDS: HostileKind[] = ['duplicated-headers', 'hold-offers', 'delayed-offers', 'response-reflection'];

export interface Endpoints {
  /** Parley's SIP port. */
  parley: number;
  /** The socket the requests come from. */
  client: number;
  /** A socket nobody should ever send to. */
  victim: number;
}

const HOLD = [
  { c: '0.0.0.0', attr: 'a=sendrecv' }, // RFC 2543 hold
  { c: '127.0.0.1', attr: 'a=inactive' },
  { c: '127.0.0.1', attr: 'a=sendonly' },
  { c: '127.0.0.1', attr: 'a=recvonly' },
  { c: '0.0.0.0', attr: 'a=sendonly' },
];

const DUPLICATES = [
  (i: number) => `Call-ID: other-${i}@127.0.0.1`,
  (i: number) => `i: compact-${i}@127.0.0.1`,
  (i: number) => `From: <sip:mallory@127.0.0.1>;tag=dup${i}`,
  () => 'To: <sip:carol@127.0.0.1>',
  (i: number) => `CSeq: ${i + 7} INVITE`,
  () => 'Max-Forwards: 5',
  () => 'Content-Length: 0',
];

export class HostileInput {
  private readonly mutator: Mutator;

  constructor(private readonly ep: Endpoints, seed: number) {
    this.mutator = new Mutator(seed);
  }

  /** Every fourth datagram is mutated on top of its kind. */
  static mutated(i: number): boolean {
    return i % 4 === 3;
  }

  /** The i-th datagram of a kind. */
  make(kind: HostileKind, i: number): Buffer {
    const b = Buffer.from(this.text(kind, i));
    return HostileInput.mutated(i) ? this.mutator.mutate(b) : b;
  }

  private text(kind: HostileKind, i: number): string {
    switch (kind) {
      case 'duplicated-headers': {
        const extra = DUPLICATES[i % DUPLICATES.length](i);
        return this.invite(`dup-${i}`, sdp('127.0.0.1', 'a=sendrecv'), extra);
      }
      case 'hold-offers': {
        const h = HOLD[i % HOLD.length];
        return this.invite(`hold-${i}`, sdp(h.c, h.attr));
      }
      case 'delayed-offers':
        return this.invite(`late-${i}`, '');
      case 'response-reflection':
        return this.reflection(i);
    }
  }

  private invite(id: string, body: string, extraHeader?: string): string {
    const { parley, client } = this.ep;
    const lines = [
      `INVITE sip:fuzz-${id}@127.0.0.1:${parley} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${client};branch=z9hG4bK-${id};rport`,
      'Max-Forwards: 70',
      `From: <sip:caller@127.0.0.1:${client}>;tag=f-${id}`,
      `To: <sip:fuzz-${id}@127.0.0.1>`,
      `Call-ID: ${id}@fuzz`,
      'CSeq: 1 INVITE',
      `Contact: <sip:caller@127.0.0.1:${client}>`,
    ];
    if (extraHeader) lines.splice(3 + (id.length % 4), 0, extraHeader);
    if (body) lines.push('Content-Type: application/sdp');
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`, '', body);
    return lines.join('\r\n');
  }

  /** A response to a request Parley never forwarded, or to one of its own dialogs' requests, aimed at the victim. */
  private reflection(i: number): string {
    const { victim } = this.ep;
    const status = ['200 OK', '180 Ringing', '486 Busy Here', '100 Trying'][i % 4];
    const top = i % 2 ? `z9hG4bKsl${(i * 2654435761 >>> 0).toString(16).padStart(20, '0')}` : 'z9hG4bKsl';
    return [
      `SIP/2.0 ${status}`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.ep.parley};branch=${top}`,
      `Via: SIP/2.0/UDP 127.0.0.1:${victim};branch=z9hG4bK-victim-${i};rport=${victim}`,
      `From: <sip:a@127.0.0.1>;tag=r${i}`,
      `To: <sip:b@127.0.0.1>;tag=t${i}`,
      `Call-ID: reflect-${i}@fuzz`,
      `CSeq: ${i + 1} ${i % 3 ? 'BYE' : 'INVITE'}`,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }
}

function sdp(c: string, attr: string): string {
  return `v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 ${c}\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n${attr}\r\n`;
}

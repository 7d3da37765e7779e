// A SIPREC offer has one m-line per recorded stream (RFC 7866 §8.1): one mixed
// stream, one per direction, or more. Parley gives each its own media leg, so the
// offer is split into one single-stream offer per m-line, and the legs' answers
// are put back together into one answer, m-lines in offer order, each `a=label`
// echoed. The recorder only listens: every stream is made send-only from the SRC's
// side before a leg sees it, so every answer is recvonly (or inactive), and the
// legs never send RTP toward the SRC.

export interface OfferedStream {
  index: number;
  /** `audio`, `video`, … */
  kind: string;
  port: number;
  proto: string;
  fmt: string;
  label: string | null;
  /** The SRC says the stream is paused: a=inactive, a=recvonly, or c=0.0.0.0 (RFC 7866 §9.1.3). */
  paused: boolean;
  /** Worth a leg: audio, a port, an RTP profile. */
  recordable: boolean;
  /** A single-stream offer for this stream's leg (direction forced to sendonly/inactive). */
  sdp: string;
}

const RTP_PROTO = /^(UDP\/TLS\/)?RTP\/S?AVPF?$/i;
const DIRECTION = /^a=(sendrecv|sendonly|recvonly|inactive)\s*$/;

export function splitOffer(sdp: string): OfferedStream[] {
  const lines = sdp.split(/\r?\n/).filter((l) => l.trim() !== '');
  const first = lines.findIndex((l) => l.startsWith('m='));
  if (first < 0) return [];
  const session = lines.slice(0, first);
  const sessionConn = session.find((l) => l.startsWith('c='));
  const sessionDir = session.map((l) => DIRECTION.exec(l)?.[1]).find((d) => d !== undefined) ?? 'sendrecv';
  const sessionLines = session.filter((l) => !DIRECTION.test(l));
  const out: OfferedStream[] = [];
  let start = first;
  while (start < lines.length) {
    let end = start + 1;
    while (end < lines.length && !lines[end]!.startsWith('m=')) end++;
    const media = lines.slice(start, end);
    const [, kind = '', portText = '0', proto = '', ...fmts] = /^m=(\S+)\s+(\S+)\s+(\S+)\s*(.*)$/.exec(media[0]!) ?? [];
    const fmt = (fmts.join(' ').split(/\s+/)[0] ?? '') || '0';
    const port = Number.parseInt(portText, 10) || 0;
    const conn = media.find((l) => l.startsWith('c=')) ?? sessionConn ?? '';
    const label = media.map((l) => /^a=label:(.+)$/.exec(l)?.[1]?.trim()).find((x) => x !== undefined) ?? null;
    const dir = media.map((l) => DIRECTION.exec(l)?.[1]).find((d) => d !== undefined) ?? sessionDir;
    const held = /\s0\.0\.0\.0\s*$/.test(conn);
    const paused = held || dir === 'inactive' || dir === 'recvonly';
    // What the leg sees: the SRC only sends; a paused stream is inactive (nothing is received, nothing buffered).
    const mediaLines = media.filter((l) => !DIRECTION.test(l));
    mediaLines.push(paused ? 'a=inactive' : 'a=sendonly');
    out.push({
      index: out.length,
      kind,
      port,
      proto,
      fmt,
      label,
      paused,
      recordable: kind === 'audio' && port > 0 && RTP_PROTO.test(proto),
      sdp: [...sessionLines, ...mediaLines].join('\r\n') + '\r\n',
    });
    start = end;
  }
  return out;
}

/** The m-section of a leg's (single-stream) answer, from its m= line on, with its connection line. */
export function answerSection(legAnswer: string, label: string | null): string[] {
  const lines = legAnswer.split(/\r?\n/).filter((l) => l.trim() !== '');
  const m = lines.findIndex((l) => l.startsWith('m='));
  if (m < 0) throw new Error('a leg answer without an m= line');
  const conn = lines.slice(0, m).find((l) => l.startsWith('c='));
  const media = lines.slice(m);
  const out = [media[0]!];
  if (conn && !media.some((l) => l.startsWith('c='))) out.push(conn);
  out.push(...media.slice(1));
  if (label !== null) out.push(`a=label:${label}`);
  return out;
}

/** A refused stream in the answer: port 0 (RFC 3264 §6), its label echoed. */
export function rejectedSection(s: Pick<OfferedStream, 'kind' | 'proto' | 'fmt' | 'label'>): string[] {
  const out = [`m=${s.kind || 'audio'} 0 ${s.proto || 'RTP/AVP'} ${s.fmt || '0'}`];
  if (s.label !== null) out.push(`a=label:${s.label}`);
  return out;
}

/** The whole answer: our session header, then each stream's section in offer order. */
export function buildSiprecAnswer(o: { sessionId: string; version: number; ip: string }, sections: string[][]): string {
  const ipVer = o.ip.includes(':') ? 'IP6' : 'IP4';
  const head = ['v=0', `o=parley ${o.sessionId} ${o.version} IN ${ipVer} ${o.ip}`, 's=parley siprec', `c=IN ${ipVer} ${o.ip}`, 't=0 0'];
  return [...head, ...sections.flat()].join('\r\n') + '\r\n';
}

/** The connection address of a leg's answer (for our session header). */
export function answerIp(legAnswer: string): string {
  return /^c=IN IP[46] (\S+)/m.exec(legAnswer)?.[1] ?? /^o=\S+ \S+ \S+ IN IP[46] (\S+)/m.exec(legAnswer)?.[1] ?? '127.0.0.1';
}

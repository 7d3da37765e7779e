// Patterns in routing rules: globs by default, regexes when written /…/flags.
import { isIP } from 'node:net';

export type Matcher = (value: string) => boolean;

export class PatternError extends Error {
  override name = 'PatternError';
}

export function compilePattern(pattern: string): Matcher {
  const re = /^\/(.*)\/([a-z]*)$/s.exec(pattern);
  if (re) {
    let compiled: RegExp;
    try {
      // g and y make test() resume from the last match (lastIndex): every other request would miss.
      compiled = new RegExp(re[1]!, re[2]!.replace(/[gy]/g, ''));
    } catch (err) {
      throw new PatternError(`bad regex ${pattern}: ${(err as Error).message}`);
    }
    return (v) => compiled.test(v);
  }
  const glob = new RegExp(
    '^' + pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.') + '$',
    'is',
  );
  return (v) => glob.test(v);
}

/** Exact address or CIDR, IPv4 or IPv6 (IPv4-mapped IPv6 sources match IPv4 rules). */
export function compileSource(spec: string): Matcher {
  const [addr, bitsText] = spec.split('/');
  const family = isIP(addr ?? '');
  if (!addr || family === 0) throw new PatternError(`bad address ${spec}`);
  const bits = bitsText === undefined ? (family === 4 ? 32 : 128) : Number(bitsText);
  if (!Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128)) {
    throw new PatternError(`bad prefix length in ${spec}`);
  }
  const want = toBigInt(addr, family);
  const width = family === 4 ? 32 : 128;
  const mask = bits === 0 ? 0n : ((1n << BigInt(bits)) - 1n) << BigInt(width - bits);
  return (value) => {
    let v = value;
    if (family === 4 && v.toLowerCase().startsWith('::ffff:') && isIP(v.slice(7)) === 4) v = v.slice(7);
    const f = isIP(v);
    if (f !== family) return false;
    return (toBigInt(v, f) & mask) === (want & mask);
  };
}

function toBigInt(addr: string, family: number): bigint {
  if (family === 4) return addr.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  const [head, tail] = addr.split('::') as [string, string | undefined];
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  const fix = (s: string): string[] => {
    if (!s) return [];
    const parts = s.split(':');
    if (v4 && parts[parts.length - 1]!.includes('.')) {
      const n = Number(toBigInt(parts.pop()!, 4));
      parts.push(((n >>> 16) & 0xffff).toString(16), (n & 0xffff).toString(16));
    }
    return parts;
  };
  const h = fix(head);
  const t = tail === undefined ? [] : fix(tail);
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

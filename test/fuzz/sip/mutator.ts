// Deterministic mutations of seed SIP messages for fuzzing (a seeded xorshift PRNG, so a
// failing case can be replayed from its index).
export class Mutator {
  private state: number;

  constructor(seed: number) {
    this.state = seed || 1;
  }

  rand(n: number): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state % n;
  }

  private pick<T>(a: T[]): T {
    return a[this.rand(a.length)];
  }

  mutate(seed: Buffer): Buffer {
    let b: Buffer = Buffer.from(seed);
    const rounds = 1 + this.rand(4);
    for (let i = 0; i < rounds; i++) b = this.once(b);
    return b;
  }

  private once(b: Buffer): Buffer {
    const len = b.length || 1;
    switch (this.rand(11)) {
      case 0: { // flip a byte
        const c = Buffer.from(b);
        if (c.length) c[this.rand(c.length)] ^= 1 << this.rand(8);
        return c;
      }
      case 1: { // random bytes inserted
        const at = this.rand(len);
        const junk = Buffer.from(Array.from({ length: 1 + this.rand(16) }, () => this.rand(256)));
        return Buffer.concat([b.subarray(0, at), junk, b.subarray(at)]);
      }
      case 2: { // delete a range
        const at = this.rand(len);
        return Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + this.rand(40))]);
      }
      case 3: // truncate
        return b.subarray(0, this.rand(len));
      case 4: { // duplicate a line
        const lines = b.toString('latin1').split('\r\n');
        const i = this.rand(lines.length);
        lines.splice(i, 0, lines[i]);
        return Buffer.from(lines.join('\r\n'), 'latin1');
      }
      case 5: { // drop a line
        const lines = b.toString('latin1').split('\r\n');
        lines.splice(this.rand(lines.length), 1);
        return Buffer.from(lines.join('\r\n'), 'latin1');
      }
      case 6: { // replace a number with an extreme one
        const s = b.toString('latin1');
        const nums = [...s.matchAll(/\d+/g)];
        if (!nums.length) return b;
        const m = this.pick(nums);
        const v = this.pick(['0', '-1', '4294967296', '99999999999999999999', '65536', '']);
        return Buffer.from(s.slice(0, m.index) + v + s.slice((m.index ?? 0) + m[0].length), 'latin1');
      }
      case 7: { // inject delimiters
        const at = this.rand(len);
        const d = this.pick(['<', '>', '"', ';', ',', ':', '@', '\r\n', '\r\n\r\n', '\0', '%', '\\', ' ', '=']);
        return Buffer.concat([b.subarray(0, at), Buffer.from(d), b.subarray(at)]);
      }
      case 8: { // a very long header
        const s = b.toString('latin1');
        const at = s.indexOf('\r\n');
        return Buffer.from(s.slice(0, at + 2) + `X-Long: ${'a'.repeat(this.rand(3000))}\r\n` + s.slice(at + 2), 'latin1');
      }
      case 9: { // swap header names' case / compact forms
        return Buffer.from(b.toString('latin1').replace(/^(Via|From|To|Call-ID|Content-Length):/gim, (m) => this.pick([m.toUpperCase(), m.toLowerCase(), m[0] + ':'])), 'latin1');
      }
      default: { // repeat the message (two in one datagram)
        return Buffer.concat([b, b.subarray(0, this.rand(len))]);
      }
    }
  }
}

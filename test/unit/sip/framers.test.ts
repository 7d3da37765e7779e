// Stream framing: SIP over TCP by Content-Length (§18.3) and drachtio's `len#payload`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ControlFramer, frame } from '../../../src/sip/control/control-framer.ts';
import { StreamFramer } from '../../../src/sip/transport/stream-framer.ts';

const sipMsg = (body: string) => `MESSAGE sip:a@b SIP/2.0\r\nl: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

describe('SIP stream framer', () => {
  it('joins a message split across reads, byte by byte', () => {
    const f = new StreamFramer(65535);
    const text = sipMsg('héllo');
    const out = [];
    for (const b of Buffer.from(text)) out.push(...f.push(Buffer.from([b])));
    assert.equal(out.length, 1);
    assert.equal(out[0].kind === 'message' && out[0].data.toString(), text);
  });

  it('splits two messages in one read, and answers a CRLFCRLF keep-alive ping', () => {
    const f = new StreamFramer(65535);
    const out = f.push(Buffer.from('\r\n\r\n' + sipMsg('a') + sipMsg('bb')));
    assert.deepEqual(out.map((o) => o.kind), ['ping', 'message', 'message']);
  });

  it('a Content-Length folded onto a continuation line (LWS, §7.3.1) frames the message', () => {
    for (const cl of ['Content-Length:\r\n 5', 'Content-Length: 5\r\n\t', 'l:\n\t5']) {
      const f = new StreamFramer(65535);
      const text = `MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x\r\n${cl}\r\nCSeq: 1 MESSAGE\r\n\r\nhello`;
      const out = f.push(Buffer.from(text + 'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n'));
      assert.deepEqual(out.map((o) => (o.kind === 'message' ? o.data.toString() : o.kind)), [text, 'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n'], JSON.stringify(cl));
    }
  });

  it('a message without Content-Length, or over the size limit, is a framing error', () => {
    assert.equal(new StreamFramer(65535).push(Buffer.from('OPTIONS sip:a SIP/2.0\r\nX: y\r\n\r\n'))[0].kind, 'error');
    assert.equal(new StreamFramer(100).push(Buffer.from(sipMsg('x'.repeat(200))))[0].kind, 'error');
  });

  it('a missing or negative Content-Length hands back the header block, so the request can be answered 400', () => {
    for (const cl of ['', 'Content-Length: -999\r\n', 'l: 12abc\r\n']) {
      const head = `OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n${cl}\r\n`;
      const [f] = new StreamFramer(65535).push(Buffer.from(head + 'body'));
      assert.equal(f.kind, 'error', cl);
      assert.equal(f.kind === 'error' ? f.head?.toString() : '', head, cl);
    }
  });
});

describe('drachtio control framer', () => {
  it('handles a length split across reads and UTF-8 payloads', () => {
    const f = new ControlFramer();
    const wire = Buffer.concat([frame('id|ping'), frame('id2|sip|€')]);
    const out = [];
    for (const b of wire) out.push(...f.push(Buffer.from([b])));
    assert.deepEqual(out, [{ kind: 'message', payload: 'id|ping' }, { kind: 'message', payload: 'id2|sip|€' }]);
  });

  it('frames cut anywhere: a random cut of mixed frames gives them back whole, in order', () => {
    const payloads = ['id|ping', `big|sip|${'€x'.repeat(20000)}`, 'id3|ok', 'x'.repeat(99990)];
    const wire = Buffer.concat(payloads.map((p) => frame(p)));
    for (let run = 0; run < 20; run++) {
      const f = new ControlFramer();
      const out = [];
      for (let at = 0; at < wire.length; ) {
        const n = 1 + Math.floor(Math.random() * (run % 2 ? 9 : 5000));
        out.push(...f.push(wire.subarray(at, at + n)));
        at += n;
      }
      assert.deepEqual(out.map((o) => (o.kind === 'message' ? o.payload : o.reason)), payloads);
    }
  });

  it('a 99999-byte frame dripped 3 bytes per read is joined once, not copied at every read', () => {
    const wire = frame('x'.repeat(99993));
    const concat = Buffer.concat;
    let copied = 0;
    Buffer.concat = ((list: readonly Uint8Array[], total?: number) => {
      const b = concat(list, total);
      copied += b.length;
      return b;
    }) as typeof Buffer.concat;
    try {
      const f = new ControlFramer();
      const out = [];
      for (let at = 0; at < wire.length; at += 3) out.push(...f.push(wire.subarray(at, at + 3)));
      assert.equal(out.length, 1);
    } finally {
      Buffer.concat = concat;
    }
    // Joined per read, it was about 1.7 GB (n²/6).
    assert.ok(copied < 2 * wire.length, `${copied} bytes copied for a frame of ${wire.length}`);
  });

  it('six digits, a non-digit or an empty length is a protocol error', () => {
    for (const bad of ['123456#x', '12a#', '#abc']) {
      assert.equal(new ControlFramer().push(Buffer.from(bad))[0].kind, 'error', bad);
    }
  });
});

describe('StreamFramer: however the stream is cut', () => {
  const msgs = [
    'INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP x\r\nContent-Length: 5\r\n\r\nhello',
    '\r\n\r\n',
    'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n',
    '\r\n',
    `MESSAGE sip:a@b SIP/2.0\r\nX-Big: ${'y'.repeat(20_000)}\r\nContent-Length: 3\r\n\r\nabc`,
  ];
  const stream = Buffer.from(msgs.join(''));
  const expected = [msgs[0], 'ping', msgs[2], msgs[4]];
  const run = (sizes: () => number): string[] => {
    const f = new StreamFramer(65535);
    const got: string[] = [];
    for (let i = 0; i < stream.length; ) {
      const n = Math.min(sizes(), stream.length - i);
      for (const r of f.push(stream.subarray(i, i + n))) got.push(r.kind === 'message' ? r.data.toString('latin1') : r.kind);
      i += n;
    }
    assert.equal(f.buffered, 0, 'nothing left pending');
    return got;
  };

  it('the same messages and pings from one read, byte by byte, and random cuts', () => {
    assert.deepEqual(run(() => stream.length), expected);
    // RFC 5626 §4.4.1: a ping cut across reads (TCP segments, TLS records) is still a ping;
    // unanswered, the client takes its flow for dead.
    assert.deepEqual(run(() => 1), expected, 'a CRLFCRLF cut into single bytes is a ping');
    let seed = 7;
    const rnd = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 37) + 1;
    for (let k = 0; k < 20; k++) assert.deepEqual(run(rnd), expected);
  });

  it('a CRLFCRLF keep-alive cut into CRLF | CRLF or CRLFCR | LF is one ping; a lone CRLF before a message is none', () => {
    for (const cut of [['\r\n', '\r\n'], ['\r\n\r', '\n'], ['\r', '\n\r\n']]) {
      const f = new StreamFramer(65535);
      const got = cut.flatMap((c) => f.push(Buffer.from(c)).map((r) => r.kind));
      assert.deepEqual(got, ['ping'], JSON.stringify(cut));
      assert.equal(f.buffered, 0);
    }
    const f = new StreamFramer(65535);
    const got = ['\r\n', 'OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n', '\r\n'].flatMap((c) => f.push(Buffer.from(c)).map((r) => r.kind));
    assert.deepEqual(got, ['message'], 'the CRLF before the message and the one after it are two runs, not a ping');
  });

  it('a header terminator cut at every position is found', () => {
    const m = 'OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nok';
    for (let cut = 1; cut < m.length; cut++) {
      const f = new StreamFramer(65535);
      const r = [...f.push(Buffer.from(m.slice(0, cut))), ...f.push(Buffer.from(m.slice(cut)))];
      assert.deepEqual(r.map((x) => (x.kind === 'message' ? x.data.toString() : x.kind)), [m], `cut at ${cut}`);
    }
  });

  it('bare LF and mixed line ends: the blank line is found at every cut, the body framed by Content-Length', () => {
    const lf = 'OPTIONS sip:a@b SIP/2.0\nContent-Length: 4\n\nok\r\n';
    const mixed = 'MESSAGE sip:a@b SIP/2.0\r\nX-A: 1\nl: 3\n\r\nabc';
    const both = '\n' + lf + mixed;
    for (let cut = 1; cut < both.length; cut++) {
      const f = new StreamFramer(65535);
      const r = [...f.push(Buffer.from(both.slice(0, cut))), ...f.push(Buffer.from(both.slice(cut)))];
      assert.deepEqual(r.map((x) => (x.kind === 'message' ? x.data.toString() : x.kind)), [lf, mixed], `cut at ${cut}`);
      assert.equal(f.buffered, 0);
    }
  });

  it('a message dripped past maxMessageSize without a header end is an error, and the framer starts over', () => {
    const f = new StreamFramer(1000);
    let err: string | undefined;
    for (let i = 0; i < 300 && !err; i++) {
      for (const r of f.push(Buffer.from('X-A: aaaa\r\n'.slice(0, 4)))) if (r.kind === 'error') err = r.reason;
    }
    assert.match(err ?? '', /headers exceed maxMessageSize/);
    assert.equal(f.buffered, 0);
    // A start line and headers before the runaway one come back as a header block (for a 513).
    const g = new StreamFramer(1000);
    const [e] = g.push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\nSubject: ${'s'.repeat(2000)}`));
    assert.equal(e?.kind, 'error');
    assert.ok(e?.kind === 'error' && e.oversized);
    assert.equal(e?.kind === 'error' ? e.head?.toString() : '', 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bKx\r\n\r\n');
    const [ok] = f.push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nl: 0\r\n\r\n'));
    assert.equal(ok?.kind, 'message');
  });
});

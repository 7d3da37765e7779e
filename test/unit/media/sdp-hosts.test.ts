// c= lines naming a host: resolved in their family, under a limit, with a timeout, cached.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SdpNegotiationError } from '../../../src/media-plane/media-errors.ts';
import { MAX_IN_FLIGHT, SdpHostResolver, type AddressLookup } from '../../../src/media-plane/sdp-hosts.ts';

const sdp = (c: string, mediaC = ''): string =>
  ['v=0', 'o=- 1 1 IN IP4 pbx.example.net', 's=-', c, 't=0 0', 'm=audio 4000 RTP/AVP 0', ...(mediaC ? [mediaC] : []), 'a=rtpmap:0 PCMU/8000', ''].join('\r\n');

function table(entries: Record<string, string>): AddressLookup & { calls: string[] } {
  const calls: string[] = [];
  const f = async (host: string, family: 4 | 6): Promise<string> => {
    calls.push(`${family}/${host}`);
    const a = entries[`${family}/${host}`];
    if (a === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return a;
  };
  return Object.assign(f, { calls });
}

async function refused(p: Promise<unknown>, re: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SdpNegotiationError, String(err));
    assert.equal(err.warning, 301);
    assert.match(err.message, re);
    return true;
  });
}

describe('SdpHostResolver', () => {
  it('gives a named c= its address in the line\'s family, session and media level alike, and leaves the rest (o=, a TTL) as it was', async () => {
    const lookup = table({ '4/pbx.example.net': '192.0.2.7', '6/media.example.net': '2001:db8::5' });
    const r = new SdpHostResolver({ lookup });
    const out = await r.resolve(sdp('c=IN IP4 PBX.example.net/127', 'c=IN IP6 media.example.net'));
    assert.match(out, /^c=IN IP4 192\.0\.2\.7\/127\r$/m);
    assert.match(out, /^c=IN IP6 2001:db8::5\r$/m);
    assert.match(out, /^o=- 1 1 IN IP4 pbx\.example\.net\r$/m, 'o= keeps its name');
    assert.deepEqual(lookup.calls.sort(), ['4/pbx.example.net', '6/media.example.net']);
  });

  it('returns an SDP with addresses (or with what negotiation refuses itself) unchanged, without a lookup', async () => {
    const lookup = table({});
    const r = new SdpHostResolver({ lookup });
    for (const c of ['c=IN IP4 10.1.2.3', 'c=IN IP6 ::1', 'c=IN IP4 999.1.1.1', 'c=IN IP4 0.0.0.0', 'c=IN IP4 bad_name!']) {
      const s = sdp(c);
      assert.equal(await r.resolve(s), s, c);
    }
    assert.deepEqual(lookup.calls, []);
  });

  it('refuses a name that does not resolve, or resolves to the other family, with Warning 301 naming it', async () => {
    const r = new SdpHostResolver({ lookup: table({ '4/odd.example': '2001:db8::1' }) });
    await refused(r.resolve(sdp('c=IN IP4 nowhere.invalid')), /c=IN IP4 nowhere\.invalid does not resolve to an IPv4 address \(ENOTFOUND\)/);
    await refused(r.resolve(sdp('c=IN IP4 odd.example')), /does not resolve to an IPv4 address \(resolved to 2001:db8::1\)/);
  });

  it('gives up on a lookup that does not answer in time', async () => {
    const r = new SdpHostResolver({ lookup: () => new Promise(() => {}), timeoutMs: 30 });
    await refused(r.resolve(sdp('c=IN IP4 slow.example')), /no answer in 30 ms/);
  });

  it(`runs at most ${MAX_IN_FLIGHT} lookups at once (a lookup given up on still counts until it ends) and refuses more`, async () => {
    const pending: Array<(a: string) => void> = [];
    let answerAtOnce = false;
    const r = new SdpHostResolver({ lookup: () => (answerAtOnce ? Promise.resolve('192.0.2.1') : new Promise((res) => pending.push(res))), timeoutMs: 20 });
    const first = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => r.resolve(sdp(`c=IN IP4 h${i}.example`)));
    await refused(r.resolve(sdp('c=IN IP4 one-more.example')), /being resolved already/);
    for (const p of first) await refused(p, /no answer in 20 ms/);
    await refused(r.resolve(sdp('c=IN IP4 still-busy.example')), /being resolved already/);
    for (const res of pending) res('192.0.2.1');
    await new Promise((res) => setImmediate(res));
    answerAtOnce = true;
    assert.match(await r.resolve(sdp('c=IN IP4 h0.example')), /^c=IN IP4 192\.0\.2\.1\r$/m, 'slots free once the lookups end');
  });

  it('keeps an answer for a minute, then asks again', async () => {
    let now = 0;
    const lookup = table({ '4/pbx.example.net': '192.0.2.7' });
    const r = new SdpHostResolver({ lookup, now: () => now });
    await r.resolve(sdp('c=IN IP4 pbx.example.net'));
    now = 59_000;
    await r.resolve(sdp('c=IN IP4 pbx.example.net'));
    assert.equal(lookup.calls.length, 1, 'cached');
    now = 61_000;
    await r.resolve(sdp('c=IN IP4 pbx.example.net'));
    assert.equal(lookup.calls.length, 2, 'asked again after its minute');
  });

  it('refuses an SDP naming more hosts than it resolves, without a lookup', async () => {
    const lookup = table({});
    const r = new SdpHostResolver({ lookup });
    const many = ['v=0', 'o=- 1 1 IN IP4 x', 's=-', 'c=IN IP4 a.example', 't=0 0', 'm=audio 4000 RTP/AVP 0', 'c=IN IP4 b.example', 'm=audio 4002 RTP/AVP 0', 'c=IN IP4 c.example', ''].join('\r\n');
    await refused(r.resolve(many), /names 3 different hosts/);
    assert.deepEqual(lookup.calls, []);
  });
});

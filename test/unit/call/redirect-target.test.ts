// Where a callee's 3xx sends the bridge's INVITE next (redirectTarget, redirectTargets), and
// dialling that follows it: the Contacts in q order, one after another (dialFollowingRedirects).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dialFollowingRedirects, MAX_REDIRECT_TARGETS, redirectTarget, redirectTargets } from '../../../src/call/redirect-target.ts';
import { silentLogger } from '../../../src/util/logger.ts';

/** A drachtio-srf SipError as createUAC rejects with it: status, and the response in `res`. */
function failure(status: number, contact?: string): unknown {
  return { status, reason: 'x', res: { get: (name: string) => (name === 'Contact' ? contact : undefined) } };
}

describe('redirectTarget', () => {
  it('the Contact to try first of a 3xx: in angle brackets or not, with a display name, the first among several of equal q', () => {
    assert.equal(redirectTarget(failure(302, '<sip:carol@10.0.0.2:5060;transport=tcp>;q=0.7')), 'sip:carol@10.0.0.2:5060;transport=tcp');
    assert.equal(redirectTarget(failure(301, 'sip:carol@example.com;expires=60')), 'sip:carol@example.com');
    assert.equal(redirectTarget(failure(302, '"Carol, mobile" <sips:carol@example.com>, <sip:dave@example.com>')), 'sips:carol@example.com');
    assert.equal(redirectTarget(failure(305, 'sip:a@b, sip:c@d')), 'sip:a@b');
    assert.equal(redirectTarget(failure(302, '<tel:+15551234567>')), 'tel:+15551234567');
    // §19.1.5: the headers stay on the URI; the SIP server forms the INVITE's headers from them.
    assert.equal(redirectTarget(failure(302, '<sip:carol@example.com?Subject=x>')), 'sip:carol@example.com?Subject=x');
  });

  it('nothing to follow: not a 3xx, no Contact, a URI of another scheme, no response', () => {
    assert.equal(redirectTarget(failure(486, '<sip:carol@example.com>')), null);
    assert.equal(redirectTarget(failure(302)), null);
    assert.equal(redirectTarget(failure(302, '<http://example.com/>')), null);
    assert.equal(redirectTarget({ status: 302 }), null);
    assert.equal(redirectTarget(new Error('boom')), null);
  });

  it('the Contacts in decreasing q (RFC 3261 §8.1.3.4): no q is 1.0, equal q in the order written, on one line or several', () => {
    assert.deepEqual(redirectTargets(failure(302, '<sip:low@10.0.0.6:5396>;q=0.1, <sip:high@10.0.0.3:5393>;q=1.0')), ['sip:high@10.0.0.3:5393', 'sip:low@10.0.0.6:5396']);
    assert.equal(redirectTarget(failure(302, '<sip:low@a>;q=0.1, <sip:high@b>;q=1.0')), 'sip:high@b');
    assert.deepEqual(redirectTargets(failure(302, 'sip:a@x;q=0.5, <sip:b@x>, "C, q=0.9" <sip:c@x;q=0.2>;expires=5;q=0.5, <sip:d@x>;Q=0.8')), ['sip:b@x', 'sip:d@x', 'sip:a@x', 'sip:c@x;q=0.2']);
    assert.deepEqual(redirectTargets(failure(302, '<sip:a@x?Subject=y>;q=1, <http://x/>;q=0.9, <sip:b@x>;q=0.1')), ['sip:a@x?Subject=y', 'sip:b@x'], 'other schemes are left out; URI headers stay on the URI (§19.1.5)');
    assert.deepEqual(redirectTargets(failure(486, '<sip:a@x>')), []);
  });
});

/** A 3xx whose Contact header is `contact`. */
const moved = (contact: string): unknown => failure(302, contact);

/** Runs dialFollowingRedirects over `answers` (target → what dialling it gives), the targets dialled in order. */
async function follow(first: string, answers: Record<string, unknown>, stop = () => false): Promise<{ dialled: string[]; result: unknown }> {
  const dialled: string[] = [];
  const dialTo = async (to: string): Promise<string> => {
    dialled.push(to);
    const a = answers[to] ?? failure(404);
    if (a === 'ok') return `answered by ${to}`;
    throw a;
  };
  try {
    return { dialled, result: await dialFollowingRedirects(first, dialTo, stop, silentLogger()) };
  } catch (err) {
    return { dialled, result: err };
  }
}

describe('dialFollowingRedirects', () => {
  it('a 302 with <low>;q=0.1, <high>;q=1.0: high is dialled first and answers; low is never dialled', async () => {
    const r = await follow('sip:bob@p', { 'sip:bob@p': moved('<sip:low@l>;q=0.1, <sip:high@h>;q=1.0'), 'sip:high@h': 'ok', 'sip:low@l': failure(486) });
    assert.deepEqual(r.dialled, ['sip:bob@p', 'sip:high@h']);
    assert.equal(r.result, 'answered by sip:high@h');
  });

  it('the next Contact is dialled when one fails, in q order, until one answers', async () => {
    const r = await follow('sip:bob@p', { 'sip:bob@p': moved('<sip:low@l>;q=0.1, <sip:high@h>;q=1.0, <sip:mid@m>;q=0.5'), 'sip:high@h': failure(486), 'sip:mid@m': failure(480), 'sip:low@l': 'ok' });
    assert.deepEqual(r.dialled, ['sip:bob@p', 'sip:high@h', 'sip:mid@m', 'sip:low@l']);
    assert.equal(r.result, 'answered by sip:low@l');
  });

  it('when all fail: the best response (§16.7: lowest class, then status), not the 302 that was followed', async () => {
    const r = await follow('sip:bob@p', { 'sip:bob@p': moved('<sip:a@a>;q=0.9, <sip:b@b>;q=0.8, <sip:c@c>;q=0.7'), 'sip:a@a': failure(503), 'sip:b@b': failure(486), 'sip:c@c': failure(480) });
    assert.deepEqual(r.dialled, ['sip:bob@p', 'sip:a@a', 'sip:b@b', 'sip:c@c']);
    assert.equal((r.result as { status: number }).status, 480);
  });

  it('a 6xx ends it: no further Contact is dialled', async () => {
    const r = await follow('sip:bob@p', { 'sip:bob@p': moved('<sip:a@a>;q=0.9, <sip:b@b>;q=0.8'), 'sip:a@a': failure(603), 'sip:b@b': 'ok' });
    assert.deepEqual(r.dialled, ['sip:bob@p', 'sip:a@a']);
    assert.equal((r.result as { status: number }).status, 603);
  });

  it("a redirected target's own 3xx puts its Contacts before the rest; loops and targets already tried or queued are skipped", async () => {
    const r = await follow('sip:bob@p', {
      'sip:bob@p': moved('<sip:a@a>;q=0.9, <sip:b@b>;q=0.8'),
      'sip:a@a': moved('<sip:bob@p>, <sip:A@A>, <sip:b@b>, <sip:a2@a>'),
      'sip:a2@a': failure(486),
      'sip:b@b': failure(486),
    });
    assert.deepEqual(r.dialled, ['sip:bob@p', 'sip:a@a', 'sip:a2@a', 'sip:b@b']);
    assert.equal((r.result as { status: number }).status, 486);
  });

  it(`at most ${MAX_REDIRECT_TARGETS} targets from 3xx responses are dialled, and a loop's 302 alone is the failure`, async () => {
    const many = Array.from({ length: 9 }, (_, i) => `<sip:t${i}@x>;q=0.${9 - i}`).join(', ');
    const r = await follow('sip:bob@p', { 'sip:bob@p': moved(many) });
    assert.equal(r.dialled.length, 1 + MAX_REDIRECT_TARGETS);
    assert.equal((r.result as { status: number }).status, 404);
    const loop = await follow('sip:bob@p', { 'sip:bob@p': moved('<sip:bob@p>') });
    assert.deepEqual(loop.dialled, ['sip:bob@p']);
    assert.equal((loop.result as { status: number }).status, 302);
  });

  it('stop() (the ring timeout, the caller left) ends it with what the last target said', async () => {
    let n = 0;
    const r = await follow('sip:bob@p', { 'sip:bob@p': moved('<sip:a@a>;q=0.9, <sip:b@b>;q=0.8'), 'sip:a@a': failure(487) }, () => ++n > 1);
    assert.deepEqual(r.dialled, ['sip:bob@p', 'sip:a@a']);
    assert.equal((r.result as { status: number }).status, 487);
  });
});

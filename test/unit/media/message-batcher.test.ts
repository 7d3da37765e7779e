// MessageBatcher: what the synchronous code pushes leaves as one post, in order; a single
// message is posted as itself; nothing waits past the turn; close drops the rest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageBatcher, unbatch, type Batch } from '../../../src/media-plane/thread/message-batcher.ts';

type Msg = { type: string; n: number };

function batcher(): { b: MessageBatcher<Msg>; posted: (Msg | Batch<Msg>)[] } {
  const posted: (Msg | Batch<Msg>)[] = [];
  return { b: new MessageBatcher<Msg>((m) => posted.push(m)), posted };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('MessageBatcher', () => {
  it('posts what the synchronous code pushed as one batch, in order, in a microtask', async () => {
    const { b, posted } = batcher();
    b.push({ type: 'a', n: 1 });
    b.push({ type: 'b', n: 2 });
    b.push({ type: 'c', n: 3 });
    assert.equal(posted.length, 0, 'not posted synchronously');
    await Promise.resolve();
    assert.deepEqual(posted, [{ type: 'batch', messages: [{ type: 'a', n: 1 }, { type: 'b', n: 2 }, { type: 'c', n: 3 }] }]);
    assert.equal(b.posts, 1);
    // A microtask that runs after the flush starts the next post (nothing waits for a later turn).
    await Promise.resolve().then(() => b.push({ type: 'd', n: 4 }));
    await Promise.resolve();
    assert.deepEqual(posted[1], { type: 'd', n: 4 });
  });

  it('posts a lone message as itself, and each turn separately', async () => {
    const { b, posted } = batcher();
    b.push({ type: 'a', n: 1 });
    assert.equal(posted.length, 0, 'not posted synchronously');
    await turn();
    b.push({ type: 'b', n: 2 });
    b.push({ type: 'c', n: 3 });
    await turn();
    assert.deepEqual(posted, [{ type: 'a', n: 1 }, { type: 'batch', messages: [{ type: 'b', n: 2 }, { type: 'c', n: 3 }] }]);
    assert.equal(b.posts, 2);
  });

  it('flush posts at once; close drops what is queued and everything after', async () => {
    const { b, posted } = batcher();
    b.push({ type: 'a', n: 1 });
    b.flush();
    assert.deepEqual(posted, [{ type: 'a', n: 1 }]);
    b.push({ type: 'b', n: 2 });
    b.close();
    b.close();
    b.push({ type: 'c', n: 3 });
    await turn();
    assert.deepEqual(posted, [{ type: 'a', n: 1 }]);
  });

  it('unbatch hands over every message of a post in order', () => {
    const seen: number[] = [];
    unbatch<Msg>({ type: 'batch', messages: [{ type: 'x', n: 1 }, { type: 'y', n: 2 }] }, (m) => seen.push(m.n));
    unbatch<Msg>({ type: 'z', n: 3 }, (m) => seen.push(m.n));
    assert.deepEqual(seen, [1, 2, 3]);
  });
});

// One `component` per log line. pino writes a child's bindings after its parent's without
// merging them: a child naming a component under a parent that named one (the mixer under its
// media thread, the worker pool and the media threads under the media engine) wrote the key twice
// in one JSON line, which strict readers refuse (Elasticsearch rejects the document).
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { componentLogger, createLogger } from '../../../src/util/logger.ts';

function rawLog(level = 'info'): { log: ReturnType<typeof createLogger>; lines: string[] } {
  const stream = new PassThrough();
  const lines: string[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts.filter((p) => p.trim()));
  });
  return { log: createLogger({ level, pretty: false }, stream), lines };
}

const count = (line: string, key: string): number => line.split(`"${key}":`).length - 1;
const flushed = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('componentLogger', () => {
  it('a component under a component: the line names the inner one once, and keeps the other bindings', async () => {
    const { log, lines } = rawLog();
    const media = componentLogger(log, 'media');
    const room = media.child({ room: 'call-x' });
    const mixer = componentLogger(room, 'mixer', { thread: 1 });
    mixer.info({ sampleRate: 16000 }, 'room rate changed');
    media.info('media line');
    await flushed();
    assert.equal(lines.length, 2);
    const [inner, outer] = lines as [string, string];
    assert.equal(count(inner, 'component'), 1, inner);
    assert.equal(count(inner, 'app'), 1, inner);
    const parsed = JSON.parse(inner) as Record<string, unknown>;
    assert.deepEqual([parsed.app, parsed.component, parsed.room, parsed.thread, parsed.sampleRate], ['parley', 'mixer', 'call-x', 1, 16000]);
    assert.equal((JSON.parse(outer) as Record<string, unknown>).component, 'media', 'the parent goes on naming its own');
  });

  it('keeps the parent\'s level', async () => {
    const { log, lines } = rawLog();
    const media = componentLogger(log, 'media');
    media.level = 'warn';
    const pool = componentLogger(media, 'worker-pool');
    pool.info('not written');
    pool.warn('written');
    await flushed();
    assert.deepEqual(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['written']);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generatorProcesses, LoadGenerator, mergeReplies, splitRooms, type GeneratorReply } from '../../../bench/lib/load-generator.ts';

test('generatorProcesses: one per 400 legs, at most one per core, BENCH_GEN_PROCS overrides', () => {
  assert.equal(generatorProcesses(90, 2, undefined), 1);
  assert.equal(generatorProcesses(400, 2, undefined), 1);
  assert.equal(generatorProcesses(401, 2, undefined), 2);
  assert.equal(generatorProcesses(1500, 2, undefined), 2);
  assert.equal(generatorProcesses(1500, 8, undefined), 4);
  assert.equal(generatorProcesses(90, 2, '3'), 3);
  assert.throws(() => generatorProcesses(90, 2, '0'), /BENCH_GEN_PROCS/);
  assert.throws(() => generatorProcesses(90, 2, 'two'), /BENCH_GEN_PROCS/);
});

test('splitRooms: whole rooms, as even as possible, never an empty process', () => {
  assert.deepEqual(splitRooms(192, 2), [96, 96]);
  assert.deepEqual(splitRooms(7, 3), [3, 2, 2]);
  assert.deepEqual(splitRooms(1, 4), [1]);
});

function reply(over: Partial<GeneratorReply>): GeneratorReply {
  return { received: [], grids: [], latencies: [], clicksLost: 0, generatorCpuMs: 0, sendLagP99Ms: 0, sendLagMaxMs: 0, loopDelayP99Ms: 0, loopDelayMaxMs: 0, ...over };
}

test('mergeReplies: legs in order, lateness and CPU of the busiest process, totals summed', () => {
  const m = mergeReplies([
    reply({ received: [1, 2], latencies: [5], clicksLost: 1, generatorCpuMs: 300, sendLagP99Ms: 4, loopDelayMaxMs: 9 }),
    reply({ received: [3], latencies: [7, 8], clicksLost: 2, generatorCpuMs: 500, sendLagP99Ms: 2, loopDelayMaxMs: 30 }),
  ]);
  assert.deepEqual(m.received, [1, 2, 3]);
  assert.deepEqual(m.latencies, [5, 7, 8]);
  assert.equal(m.clicksLost, 3);
  assert.equal(m.generatorCpuMs, 500);
  assert.equal(m.generatorCpuMsTotal, 800);
  assert.equal(m.processes, 2);
  assert.equal(m.sendLagP99Ms, 4);
  assert.equal(m.loopDelayMaxMs, 30);
});

test('LoadGenerator over two real processes: every leg gets a distinct port and hears its room', async () => {
  const gen = await LoadGenerator.start(6, 3, 2, 2);
  try {
    assert.equal(gen.processes, 2);
    const ports = gen.ports;
    assert.equal(ports.length, 6);
    assert.equal(new Set(ports).size, 6);
    // Each leg sends to itself: every leg must receive its own packets back.
    await gen.connect(ports.map((port) => ({ host: '127.0.0.1', port })));
    const r = await gen.run(1);
    assert.equal(r.received.length, 6);
    for (const [i, n] of r.received.entries()) assert.ok(n > 20, `leg ${i} received ${n} packets in 1 s`);
    assert.equal(r.processes, 2);
  } finally {
    gen.close();
  }
});

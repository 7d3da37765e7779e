// The cluster section of the config, and which room an INVITE is headed for
// before it is answered (what the INVITE gate can redirect).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { roomBeforeAnswer } from '../../../src/cluster/flow-room.ts';
import type { FlowsConfig } from '../../../src/call/flow-types.ts';
import { ConfigError, parseConfig } from '../../../src/config/load-config.ts';

const api = `api: { enabled: true, token: "0123456789abcdef0123" }\n`;
const cluster = (extra = ''): string =>
  api + `cluster:\n  nodeId: n1\n  sipAddress: "127.0.0.2:5060"\n  apiAddress: "http://127.0.0.2:8080"\n  redisUrl: "redis://127.0.0.1:6379"\n${extra}`;

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.problems;
  }
  return [];
}

describe('cluster config', () => {
  it('absent: Parley runs alone (cluster is null)', () => {
    assert.equal(parseConfig('').cluster, null);
  });

  it('the four keys, with the tuning defaults filled in', () => {
    const c = parseConfig(cluster()).cluster;
    assert.deepEqual(c, { nodeId: 'n1', sipAddress: '127.0.0.2:5060', apiAddress: 'http://127.0.0.2:8080', redisUrl: 'redis://127.0.0.1:6379', heartbeatMs: 1000, nodeTtlMs: 3000, leaseMs: 5000 });
    assert.equal(parseConfig(cluster('  leaseMs: 9000\n')).cluster?.leaseMs, 9000);
  });

  it('bad values name their key', () => {
    const p = problems(api + `cluster:\n  nodeId: "a b"\n  sipAddress: nowhere\n  apiAddress: "ftp://x"\n  redisUrl: "http://x"\n  leaseTime: 3\n`);
    for (const key of ['cluster.nodeId', 'cluster.sipAddress', 'cluster.apiAddress', 'cluster.redisUrl', 'cluster.leaseTime']) {
      assert.ok(p.some((l) => l.startsWith(key + ':')), `${key} in ${p.join(' | ')}`);
    }
    assert.ok(problems(api + 'cluster: { nodeId: n1 }\n').some((l) => l.includes('redisUrl')));
    assert.ok(problems(cluster('  heartbeatMs: 1000\n  leaseMs: 800\n')).some((l) => l.startsWith('cluster.leaseMs:')));
    assert.ok(problems(cluster('  nodeTtlMs: 500\n')).some((l) => l.startsWith('cluster.nodeTtlMs:')));
    assert.ok(problems(cluster().replace(api, '')).some((l) => l.startsWith('cluster: needs api.enabled')));
  });
});

describe('roomBeforeAnswer', () => {
  const flows: FlowsConfig = {
    direct: [{ conference: { room: 'a' } }],
    recorded: [{ record: { action: 'start' } }, { goto: 'direct' }],
    pin: [{ answer: null }, { menu: { prompt: { prompt: 'x' }, branches: { '1': 'direct' } } }],
    early: [{ answer: { early: true } }, { conference: { room: 'b' } }],
    loop1: [{ goto: 'loop2' }],
    loop2: [{ goto: 'loop1' }],
  };
  it('follows silent steps and gotos to a conference step', () => {
    assert.equal(roomBeforeAnswer(flows, 'direct'), 'a');
    assert.equal(roomBeforeAnswer(flows, 'recorded'), 'a');
  });
  it('stops at anything that answers or talks (the room is not known before the answer)', () => {
    assert.equal(roomBeforeAnswer(flows, 'pin'), null);
    assert.equal(roomBeforeAnswer(flows, 'early'), null);
    assert.equal(roomBeforeAnswer(flows, 'loop1'), null);
    assert.equal(roomBeforeAnswer(flows, 'missing'), null);
  });
});

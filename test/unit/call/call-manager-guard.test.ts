// CallManager's guard with fakes for the layers below: a call whose dialog went away
// unheard is ended (its flow stops, its admission place is released); a flow whose
// task does not stop after its call ended is aborted one guard period later.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import type { CallDeps } from '../../../src/call/call-deps.ts';
import { CallManager } from '../../../src/call/call-manager.ts';
import type { FlowsConfig } from '../../../src/call/flow-types.ts';
import type { RoutingTable } from '../../../src/policy/routing-table.ts';
import { silentLogger } from '../../../src/util/logger.ts';
import { waitFor } from '../../helpers/wait.ts';

class FakeDialog extends EventEmitter {
  connected = true;
  destroy(_opts: unknown, cb?: (err: unknown) => void): void {
    this.connected = false;
    cb?.(null);
  }
}

class FakeLeg extends EventEmitter {
  isClosed = false;
  media = {};
  watchMedia(): void {}
  play(player: { stop(): void }): void {
    void player;
  }
  mute(): void {}
  close(): void {
    this.isClosed = true;
  }
}

class FakeRoom extends EventEmitter {
  closed = false;
  constructor(readonly id: string) {
    super();
  }
  createLeg(): Promise<{ leg: FakeLeg; answer: string }> {
    return Promise.resolve({ leg: new FakeLeg(), answer: 'v=0\r\n' });
  }
  createOutgoingLeg(): Promise<{ leg: FakeLeg; offer: string }> {
    return Promise.resolve({ leg: new FakeLeg(), offer: 'v=0\r\n' });
  }
  close(): void {
    this.closed = true;
  }
}

function setup(flows: FlowsConfig) {
  const dialogs: FakeDialog[] = [];
  const rooms: FakeRoom[] = [];
  const deps = {
    srf: {
      createUAS: (_req: unknown, _res: unknown, _opts: unknown, cb?: (err: unknown, d: FakeDialog) => void) => {
        const d = new FakeDialog();
        dialogs.push(d);
        if (cb) cb(null, d);
        return Promise.resolve(d);
      },
      // A callee that never answers and cannot be cancelled: the bridge task never settles.
      createUAC: () => new Promise(() => undefined),
    },
    media: {
      createRoom: (id: string) => {
        const r = new FakeRoom(id);
        rooms.push(r);
        return Promise.resolve(r);
      },
    },
    prompts: {
      createPlayer: () => {
        let stop!: () => void;
        const done = new Promise((r) => (stop = () => r({ reason: 'stopped' })));
        return { done, stop };
      },
    },
    recordings: { hasRoom: () => true },
    conferences: {},
    settings: { loopMarker: { header: 'X-Parley-Leg', value: 'b2b' }, outboundProxy: null, sampleRate: 16000, recordingDir: '/tmp' },
  } as unknown as CallDeps;
  const routing = { flows } as unknown as RoutingTable;
  const manager = new CallManager(deps, routing, silentLogger(), { upstreams: [], maxCalls: 1, maxCallRatePerSource: 0 }, {
    delayedOffer: 'offer',
    guardIntervalSec: 0, // the test runs the guard itself
    maxUnansweredSec: 60,
  });
  const invite = (callId: string) => {
    const req = Object.assign(new EventEmitter(), {
      method: 'INVITE',
      uri: 'sip:bob@example.com',
      body: 'v=0\r\nm=audio 4000 RTP/AVP 0\r\n',
      source_address: '127.0.0.1',
      get: (h: string) => ({ 'call-id': callId, to: '<sip:bob@example.com>', from: '<sip:alice@example.com>;tag=1' })[h.toLowerCase()],
      has: () => false,
    });
    const sent: number[] = [];
    const res = {
      finalResponseSent: false,
      send: (status: number) => {
        sent.push(status);
        if (status >= 200) res.finalResponseSent = true;
      },
    };
    manager.take(req as unknown as Srf.SrfRequest, res as unknown as Srf.SrfResponse, 'flow', silentLogger());
    return { req, res, sent };
  };
  return { manager, dialogs, rooms, invite };
}

describe('CallManager guard', () => {
  it('ends an answered call whose dialog went away unheard: flow stopped, room closed, place released', async () => {
    const { manager, dialogs, rooms, invite } = setup({ flow: [{ answer: null }, { play: { tone: 'silence:60000' } }] });
    const ended = new Promise((r) => manager.once('callend', (a) => r(a.call.ended)));
    invite('c1');
    await waitFor('the call answered', () => dialogs.length === 1 && manager.active.size === 1);
    assert.equal(manager.admitted, 1);
    manager.guard();
    assert.equal(manager.active.get('c1')?.call.ended, false, 'a live dialog keeps the call');
    dialogs[0]!.connected = false; // gone without a BYE reaching the call
    manager.guard();
    assert.equal(await ended, true, 'the flow is over and the call ended');
    assert.equal(manager.active.size, 0);
    assert.equal(manager.admitted, 0, 'its admission place is free again');
    assert.ok(rooms[0]!.closed);
    manager.close();
  });

  it('aborts a flow that is still running one guard period after its call ended', async () => {
    const { manager, rooms, invite } = setup({ flow: [{ bridge: { ringTimeout: 1 } }] });
    const ended = new Promise((r) => manager.once('callend', (_a, outcome) => r(outcome.reason)));
    const { req } = invite('c2');
    await waitFor('the call running', () => manager.active.size === 1);
    req.emit('cancel');
    assert.ok(manager.active.get('c2')!.call.ended);
    manager.guard(1000);
    assert.equal(manager.active.size, 1, 'the first look only notes it');
    manager.guard(11_000);
    assert.equal(await ended, 'call-ended');
    assert.equal(manager.active.size, 0);
    assert.equal(manager.admitted, 0);
    assert.ok(rooms[0]!.closed);
    manager.close();
  });

  it('a CANCEL while the call is still being set up ends it before its flow starts, and frees its place', async () => {
    const { manager, rooms, invite } = setup({ flow: [{ answer: null }] });
    const { req } = invite('c3');
    req.emit('cancel'); // before createRoom resolved
    await waitFor('the room closed', () => rooms[0]?.closed);
    assert.equal(manager.active.size, 0);
    assert.equal(manager.admitted, 0);
    manager.close();
  });
});

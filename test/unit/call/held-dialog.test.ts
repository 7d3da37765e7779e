// HeldDialog and createUac: what a B leg's callee sends between drachtio-srf making the dialog
// and Parley putting its listeners on is kept, in order, and handed over on release().
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { createUac } from '../../../src/call/held-dialog.ts';
import { silentLogger } from '../../../src/util/logger.ts';

class FakeDialog extends EventEmitter {
  remote = { sdp: 'v=0 answer' };
}

const res = (): { sent: number[]; send: (s: number) => void } => {
  const r = { sent: [] as number[], send: (s: number) => void r.sent.push(s) };
  return r;
};

/** An srf whose createUAC hands `d` to its callback, then (same turn, as drachtio-srf may) runs `next`. */
function srfWith(d: FakeDialog, next: () => void): Srf {
  return {
    createUAC: (_uri: unknown, _opts: unknown, _progress: unknown, cb: (err: unknown, dialog: FakeDialog) => void) => {
      cb(null, d);
      next();
    },
  } as unknown as Srf;
}

describe('createUac: requests right behind the 200 wait for the listeners', () => {
  it('a re-INVITE and a BYE in the same turn as the dialog reach listeners put on after the await, in order; the 200 SDP is kept', async () => {
    const d = new FakeDialog();
    const r = res();
    const srf = srfWith(d, () => {
      // drachtio-srf replaces remote.sdp with the re-INVITE's offer before emitting it.
      d.remote.sdp = 'v=0 reoffer';
      d.emit('modify', { body: 'v=0 reoffer' }, r);
      d.emit('destroy', { method: 'BYE' });
      d.removeAllListeners();
    });
    const held = await createUac(srf, 'sip:x@127.0.0.1', { localSdp: 'v=0' }, {}, silentLogger());
    assert.equal(held.answer, 'v=0 answer');
    const got: string[] = [];
    d.on('modify', (req: { body: string }) => got.push(`modify ${req.body}`));
    d.on('destroy', () => got.push('destroy'));
    assert.deepEqual(got, [], 'nothing before release');
    held.release();
    held.release();
    assert.deepEqual(got, ['modify v=0 reoffer', 'destroy']);
    assert.deepEqual(r.sent, [], 'the listener answers, not the hold');
  });

  it('a request nobody listens for at release (the dialog was given up) gets 487; later ones go straight to the listeners', async () => {
    const d = new FakeDialog();
    const r = res();
    const held = await createUac(srfWith(d, () => d.emit('info', {}, r)), 'sip:x@127.0.0.1', { localSdp: 'v=0' }, {}, silentLogger());
    held.release();
    assert.deepEqual(r.sent, [487]);
    const got: string[] = [];
    d.on('info', () => got.push('info'));
    d.emit('info', {}, res());
    assert.deepEqual(got, ['info']);
    assert.equal(d.listenerCount('info'), 1, 'the hold is off');
  });

  it("a failed INVITE rejects with createUAC's error and holds nothing", async () => {
    const err = Object.assign(new Error('Busy Here'), { status: 486 });
    const srf = { createUAC: (_u: unknown, _o: unknown, _p: unknown, cb: (e: unknown) => void) => cb(err) } as unknown as Srf;
    await assert.rejects(createUac(srf, 'sip:x@127.0.0.1', { localSdp: 'v=0' }, {}, silentLogger()), (e: unknown) => e === err);
  });
});

// Rooms through the control API: open a room, dial two SIPp callees into it (one
// shown under its own URI, one impersonating another), check by audio that each
// hears the other, mute one through the API (the other stops hearing it), kick
// one (its SIPp gets a BYE) and close the room (the other gets its BYE); a leg dialled
// with a generated identity hears the room, is not heard and is not on the roster.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { apiBase, apiYaml, call } from '../helpers/api-client.ts';
import { purity, rms } from '../helpers/audio-analysis.ts';
import { heardAfter, toneAndLevel } from '../helpers/peer-hearing.ts';
import { startParley, type RunningParley } from '../helpers/parley-harness.ts';
import { received, startCallee, startCaller, sippOk, sippTraced, type Peer } from './helpers.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function waitForRoom(base: string, name: string): Promise<any> {
  const until = Date.now() + 10_000;
  for (;;) {
    const r = await call(base, 'GET', `/rooms/${name}`);
    if (r.status === 200 && r.body.roster.length > 0) return r.body;
    if (Date.now() > until) throw new Error(`room ${name} never had a leg`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

const A_HZ = 1000;
const B_HZ = 440;

describe('control API rooms: create, dial out, mute, kick, close (SIPp callees, audio checked)', () => {
  let parley: RunningParley;
  let base: string;
  let a: Peer;
  let b: Peer;
  let legA = '';
  let legB = '';

  before(async () => {
    const state = join(mkdtempSync(join(tmpdir(), 'parley-rooms-')), 'rules.json');
    parley = await startParley(
      `
routing:
  rules:
    - name: lobby
      match: { method: INVITE, to: "sip:lobby@*" }
      actions: [{ app: lobby }]
flows:
  lobby: [answer, { conference: { room: lobby } }]
` + apiYaml(state),
    );
    base = apiBase(parley);
    a = await startCallee('callee.xml', A_HZ);
    b = await startCallee('callee.xml', B_HZ);
  });

  after(async () => {
    a?.kill();
    b?.kill();
    await a?.rtp.close();
    await b?.rtp.close();
    await parley?.stop();
  });

  it('opens a room and dials two legs into it', async () => {
    let r = await call(base, 'POST', '/rooms', { name: 'standup' });
    assert.equal(r.status, 201);
    assert.equal(r.body.name, 'standup');
    r = await call(base, 'POST', '/rooms', { name: '../x' });
    assert.equal(r.status, 400);
    assert.equal(r.body.field, 'body.name');
    r = await call(base, 'POST', '/rooms/standup/dial', { to: `sip:alice@127.0.0.1:${a.port}` });
    assert.equal(r.status, 201, r.text);
    legA = r.body.leg;
    r = await call(base, 'POST', '/rooms/standup/dial', { to: `sip:bob@127.0.0.1:${b.port}`, identity: 'impersonate', as: { uri: 'sip:boss@example.com', displayName: 'Boss' } });
    assert.equal(r.status, 201, r.text);
    legB = r.body.leg;
    // The same URI twice is refused: the roster is unique by URI.
    r = await call(base, 'POST', '/rooms/standup/dial', { to: `sip:alice@127.0.0.1:${a.port}` });
    assert.equal(r.status, 409);
    r = await call(base, 'POST', '/rooms/standup/dial', { to: 'sip:x@127.0.0.1', identity: 'impersonate' });
    assert.equal(r.body.field, 'body.as');
    const room = await call(base, 'GET', '/rooms/standup');
    assert.deepEqual(room.body.roster.map((e: { uri: string }) => e.uri), [`sip:alice@127.0.0.1:${a.port}`, 'sip:boss@example.com']);
    assert.equal((await call(base, 'GET', '/rooms')).body.length, 1);
  });

  it('each leg hears the other', async () => {
    const atA = toneAndLevel(await heardAfter(a.rtp, a.rtp.received.length), B_HZ);
    const atB = toneAndLevel(await heardAfter(b.rtp, b.rtp.received.length), A_HZ);
    assert.ok(atA.share > 0.6, `A hears B: ${atA.share.toFixed(3)}`);
    assert.ok(atB.share > 0.6, `B hears A: ${atB.share.toFixed(3)}`);
  });

  it('a leg muted through the API is not heard; unmuted it is again', async () => {
    let r = await call(base, 'POST', `/rooms/standup/legs/${legA}/mute`);
    assert.equal(r.status, 200);
    const muted = toneAndLevel(await heardAfter(b.rtp, b.rtp.received.length), A_HZ);
    assert.ok(muted.rms < 0.005, `B hears silence: rms ${muted.rms.toFixed(4)}`);
    assert.equal((await call(base, 'GET', '/rooms/standup')).body.roster[0].muted, true);
    r = await call(base, 'POST', `/rooms/standup/legs/${legA}/unmute`);
    const back = toneAndLevel(await heardAfter(b.rtp, b.rtp.received.length), A_HZ);
    assert.ok(back.share > 0.6, `B hears A again: ${back.share.toFixed(3)}`);
    assert.equal((await call(base, 'POST', '/rooms/standup/legs/nope/mute')).status, 404);
  });

  it('whispers a prompt to one leg, deafens a leg, coaches a leg to no one', async () => {
    const a0 = a.rtp.received.length;
    const b0 = b.rtp.received.length;
    let r = await call(base, 'POST', '/rooms/standup/play', { prompt: 'record-notice', leg: legA });
    assert.equal(r.status, 202);
    const atA = await heardAfter(a.rtp, a0);
    const atB = toneAndLevel(await heardAfter(b.rtp, b0), A_HZ);
    const stopped = await call(base, 'POST', '/rooms/standup/play/stop');
    assert.equal(stopped.body.stopped, 1);
    const otherAtA = Math.max(...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => rms(atA, i * 800, 800) * Math.sqrt(Math.max(0, 1 - purity(atA, 8000, B_HZ, i * 800, 800)))));
    assert.ok(otherAtA > 0.03, `A hears the whisper: ${otherAtA.toFixed(4)}`);
    assert.ok(atB.share > 0.9, `B hears only A: ${atB.share.toFixed(3)}`);
    await call(base, 'POST', `/rooms/standup/legs/${legA}/deafen`);
    // The whisper is over or not, a deaf leg hears nothing at all.
    const deaf = toneAndLevel(await heardAfter(a.rtp, a.rtp.received.length), B_HZ);
    assert.ok(deaf.rms < 0.005, `deaf A hears nothing: ${deaf.rms.toFixed(4)}`);
    await call(base, 'POST', `/rooms/standup/legs/${legA}/undeafen`);
    r = await call(base, 'POST', `/rooms/standup/legs/${legB}/coach`, { listeners: [] });
    assert.equal(r.status, 200);
    const coached = toneAndLevel(await heardAfter(a.rtp, a.rtp.received.length), B_HZ);
    assert.ok(coached.share < 0.05, `B coaching no one is not heard by A: ${coached.share.toFixed(3)}`);
    await call(base, 'POST', `/rooms/standup/legs/${legB}/coach`, { listeners: null });
    const again = toneAndLevel(await heardAfter(a.rtp, a.rtp.received.length), B_HZ);
    assert.ok(again.share > 0.6, `A hears B again: ${again.share.toFixed(3)}`);
    r = await call(base, 'POST', `/rooms/standup/legs/${legB}/coach`, { listeners: 'all' });
    assert.equal(r.body.field, 'body.listeners');
  });

  it('kicks a leg (its far end gets a BYE) and closes the room (so does the other)', async () => {
    let r = await call(base, 'DELETE', `/rooms/standup/legs/${legB}`);
    assert.equal(r.status, 200);
    sippOk(await b.done, 'B');
    const room = await call(base, 'GET', '/rooms/standup');
    assert.deepEqual(room.body.roster.map((e: { leg: string }) => e.leg), [legA]);
    r = await call(base, 'DELETE', '/rooms/standup');
    assert.equal(r.status, 200);
    sippOk(await a.done, 'A');
    assert.equal((await call(base, 'GET', '/rooms/standup')).status, 404);
  });

  it('a caller in a room is on its roster, and a transfer through the API REFERs it away', async () => {
    const caller = await startCaller(parley, 'caller-refer.xml', `sip:lobby@127.0.0.1:${parley.sipPort}`, { toneHz: 440 });
    try {
      const room = await waitForRoom(base, 'lobby');
      assert.match(room.roster[0].uri, /^sip:alice@127\.0\.0\.1/);
      const [c] = (await call(base, 'GET', '/calls')).body;
      assert.equal(c.flow, 'lobby');
      const r = await call(base, 'POST', `/calls/${encodeURIComponent(c.id)}/transfer`, { to: 'sip:operator@example.com' });
      assert.equal(r.status, 200, r.text);
      const run = await caller.done;
      sippOk(run, 'caller');
      const refer = received(run).find((m) => /^REFER /m.test(m)) ?? '';
      assert.match(refer, /^Refer-To: <sip:operator@example\.com>/m);
    } finally {
      caller.kill();
      await caller.rtp.close();
    }
  });

  it('a dial-out that rings past its ringTimeout is cancelled: 502 and no room left', async () => {
    const c = await startCallee('callee-no-answer.xml', null);
    try {
      const r = await call(base, 'POST', '/rooms/empty/dial', { to: `sip:nobody@127.0.0.1:${c.port}`, ringTimeout: 1 });
      assert.equal(r.status, 502);
      assert.equal(r.body.status, 408);
      sippOk(await c.done, 'ringing callee (CANCEL received)');
      assert.equal((await call(base, 'GET', '/rooms/empty')).status, 404);
    } finally {
      c.kill();
      await c.rtp.close();
    }
  });
  for (const how of ['its room is deleted', 'its leg is kicked'] as const) {
    it(`a ringing dial-out is cancelled at once when ${how} (502, status 487), not left ringing`, async () => {
      const c = await startCallee('callee-no-answer.xml', null);
      try {
        const name = how === 'its room is deleted' ? 'ring-del' : 'ring-kick';
        assert.equal((await call(base, 'POST', '/rooms', { name })).status, 201);
        const dialled = call(base, 'POST', `/rooms/${name}/dial`, { to: `sip:ringing@127.0.0.1:${c.port}`, ringTimeout: 30 });
        const room = await waitForRoom(base, name);
        // On the roster from the dial's start; its INVITE goes out once its leg is made (a DELETE before that is a 404): ringing once the callee sent its 180.
        await sippTraced(c, 'sent', /^SIP\/2\.0 180 /m);
        const started = Date.now();
        if (how === 'its room is deleted') assert.equal((await call(base, 'DELETE', `/rooms/${name}`)).status, 200);
        else assert.equal((await call(base, 'DELETE', `/rooms/${name}/legs/${room.roster[0].leg}`)).status, 200);
        const r = await dialled;
        assert.equal(r.status, 502, r.text);
        assert.equal(r.body.status, 487, r.text);
        sippOk(await c.done, 'ringing callee (CANCEL received)');
        assert.ok(Date.now() - started < 5_000, `cancelled ${Date.now() - started} ms after, not at the 30 s ring timeout`);
        if (how === 'its leg is kicked') assert.equal((await call(base, 'DELETE', `/rooms/${name}`)).status, 200);
      } finally {
        c.kill();
        await c.rtp.close();
      }
    });
  }

  it('dials racing DELETEs of their rooms: each a 201, 404 or 502, never a 500', async () => {
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const name = `race-${i}`;
        const [dial] = await Promise.all([call(base, 'POST', `/rooms/${name}/dial`, { to: 'sip:nobody@127.0.0.1:1;transport=tcp', ringTimeout: 2 }), call(base, 'DELETE', `/rooms/${name}`)]);
        statuses.push(dial.status);
      }),
    );
    assert.ok(statuses.every((s) => s === 201 || s === 404 || s === 502), statuses.join(' '));
    for (let i = 0; i < 30; i++) await call(base, 'DELETE', `/rooms/race-${i}`);
  });

  it('a room POST /rooms opened stays open, empty, when a dial into it fails; DELETE closes it', async () => {
    assert.equal((await call(base, 'POST', '/rooms', { name: 'kept' })).status, 201);
    const r = await call(base, 'POST', '/rooms/kept/dial', { to: 'sip:nobody@127.0.0.1:1;transport=tcp' });
    assert.equal(r.status, 502, r.text);
    const room = await call(base, 'GET', '/rooms/kept');
    assert.equal(room.status, 200, 'still there');
    assert.equal(room.body.legs, 0);
    assert.deepEqual(room.body.roster, [], 'the failed leg left the roster');
    assert.equal((await call(base, 'DELETE', '/rooms/kept')).status, 200);
    assert.equal((await call(base, 'GET', '/rooms/kept')).status, 404);
  });

  it('a leg dialled with a generated identity hears the room, is heard by no one and is not on the roster', async () => {
    const shown = await startCallee('callee.xml', A_HZ);
    const hidden = await startCallee('callee.xml', B_HZ);
    try {
      assert.equal((await call(base, 'POST', '/rooms', { name: 'monitored' })).status, 201);
      let r = await call(base, 'POST', '/rooms/monitored/dial', { to: `sip:agent@127.0.0.1:${shown.port}` });
      assert.equal(r.status, 201, r.text);
      // The same URI as a visible participant is fine for a generated identity: it is not on the roster.
      r = await call(base, 'POST', '/rooms/monitored/dial', { to: `sip:agent@127.0.0.1:${hidden.port}`, identity: 'generated' });
      assert.equal(r.status, 201, r.text);
      const room = (await call(base, 'GET', '/rooms/monitored')).body;
      assert.deepEqual(room.roster.map((e: { uri: string }) => e.uri), [`sip:agent@127.0.0.1:${shown.port}`]);
      const atHidden = toneAndLevel(await heardAfter(hidden.rtp, hidden.rtp.received.length), A_HZ);
      assert.ok(atHidden.share > 0.6, `the hidden leg hears the room: ${atHidden.share.toFixed(3)}`);
      const atShown = toneAndLevel(await heardAfter(shown.rtp, shown.rtp.received.length), B_HZ);
      assert.ok(atShown.rms < 0.005, `the visible leg hears nothing of the hidden one: rms ${atShown.rms.toFixed(4)}`);
      assert.equal((await call(base, 'DELETE', '/rooms/monitored')).status, 200);
      sippOk(await shown.done, 'visible leg');
      sippOk(await hidden.done, 'hidden leg');
    } finally {
      shown.kill();
      hidden.kill();
      await shown.rtp.close();
      await hidden.rtp.close();
    }
  });
});

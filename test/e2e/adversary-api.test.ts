// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Attacks on the control API of a running Parley from a client that did not write
// it: connections that trickle a request (slowloris, with and without a token),
// event-stream clients that stop reading, downloads repeated, abandoned and asked
// for with HEAD. Each holds something of Parley's (a descriptor, memory) until the
// API lets it go, and the audit log must say what was exported and nothing else.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import WebSocket from 'ws';
import { apiBase, apiYaml, call, TEST_TOKEN } from '../helpers/api-client.ts';
import type { RecordingMetadata } from '../../src/recording/metadata.ts';
import { parleyPerSuite } from '../helpers/parley-harness.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { waitFor } from '../helpers/wait.ts';
import { finalSidecar, metadata, multipart, RawSrc, sdp } from './adversary-src.ts';
import { SIPREC_ROUTING } from './siprec-helpers.ts';

const state = join(mkdtempSync(join(tmpdir(), 'parley-adv-api-')), 'rules.json');
const REQUEST_TIMEOUT_MS = 1000;
const MAX_CONNECTIONS = 30;

interface Trickler {
  /** Resolves with what the server sent when it closes the connection. */
  closed: Promise<string>;
  stop(): void;
}

/** Sends `head`, then one more byte every 100 ms (a slowloris), until the server closes the connection. */
function trickle(base: string, head: string, byte = 'a'): Trickler {
  const u = new URL(base);
  const s = net.connect(Number(u.port), u.hostname);
  let got = '';
  s.on('data', (d) => (got += d.toString('latin1')));
  s.on('error', () => undefined);
  s.write(head);
  const timer = setInterval(() => {
    if (!s.destroyed) s.write(byte);
  }, 100);
  const closed = new Promise<string>((resolve) =>
    s.once('close', () => {
      clearInterval(timer);
      resolve(got);
    }),
  );
  return { closed, stop: () => (clearInterval(timer), s.destroy()) };
}

/** Resolves with `p`'s value, or rejects after `ms` naming `what`. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

describe('adversary: the control API', () => {
  let made: Promise<{ id: string; meta: RecordingMetadata }> | null = null;
  /** A recording (a short SIPREC session), made once for the tests that need one. */
  const recording = (): Promise<{ id: string; meta: RecordingMetadata }> =>
    (made ??= (async () => {
      const p = parley();
      const ua = await RawSipClient.open();
      const src = new RawSrc(ua, p.sipPort);
      const ended = new Promise<void>((resolve) => p.app.calls!.once('callend', () => resolve()));
      assert.equal(await src.invite(multipart([['application/sdp', sdp(40_002)], ['application/rs-metadata+xml', metadata(1)]])), 200);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(await src.request('BYE', null), 200);
      await ended;
      ua.close();
      const meta = await finalSidecar(p, src.callId);
      return { id: meta.mix.file.replace(/\.mix\.wav$/, ''), meta };
    })());
  const parley = parleyPerSuite(`${apiYaml(state, `  eventBacklog: 5000\n  requestTimeoutMs: ${REQUEST_TIMEOUT_MS}\n  maxConnections: ${MAX_CONNECTIONS}`)}${SIPREC_ROUTING}`);

  it('a request trickled byte by byte (slowloris) is cut off at api.requestTimeoutMs, with a token or without; the API still answers', async () => {
    const base = apiBase(parley());
    const body = (auth: string): string => `POST /rooms/r1/dial HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 60000\r\n\r\n{"to":"`;
    const attacks = {
      'no token, body trickled': trickle(base, body('')),
      'a token, body trickled': trickle(base, body(`Authorization: Bearer ${TEST_TOKEN}\r\n`)),
      'headers trickled': trickle(base, 'GET /calls HTTP/1.1\r\nHost: x\r\nX-Pad: ', 'b'),
    };
    try {
      for (const [what, a] of Object.entries(attacks)) {
        // The deadline plus Node's check interval, with room for a loaded machine; without the deadline they stay open for ever.
        const got = await within(a.closed, 15_000, what);
        assert.match(got, /^HTTP\/1\.1 (401|408) /, `${what}: ${got.slice(0, 60)}`);
      }
    } finally {
      for (const a of Object.values(attacks)) a.stop();
    }
    const ok = await call(base, 'GET', '/calls');
    assert.equal(ok.status, 200, ok.text);
  });

  it('a flood of connections: past api.maxConnections each new one is closed at once; the API answers once they go', async () => {
    const u = new URL(apiBase(parley()));
    const flood = 2 * MAX_CONNECTIONS;
    const sockets = await Promise.all(
      Array.from({ length: flood }, async () => {
        const s = net.connect(Number(u.port), u.hostname);
        let got = 0;
        s.on('data', (d) => (got += d.length));
        s.on('error', () => undefined);
        const closed = new Promise<number>((resolve) => s.once('close', () => resolve(got)));
        await new Promise((r) => s.once('connect', r).once('close', r));
        return { s, closed };
      }),
    );
    // Held ones get 408 at api.requestTimeoutMs; refused ones are closed with nothing said.
    const got = await within(Promise.all(sockets.map((x) => x.closed)), 15_000, 'the flood');
    const refused = got.filter((n) => n === 0).length;
    assert.ok(refused >= flood - MAX_CONNECTIONS, `${refused} of ${flood} refused at once (the rest held until their deadline)`);
    const ok = await call(apiBase(parley()), 'GET', '/calls');
    assert.equal(ok.status, 200, ok.text);
  });

  it('an event-stream client that stops reading is cut off (its unread events no longer pile up in memory); one that reads gets every event', async () => {
    const api = parley().app.api!;
    const url = `${apiBase(parley()).replace('http', 'ws')}/events`;
    const open = async (): Promise<{ ws: WebSocket; got: () => number }> => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      let n = 0;
      const hello = new Promise<void>((resolve) => ws.once('message', () => resolve()));
      ws.on('message', () => n++);
      ws.on('error', () => undefined);
      await hello;
      return { ws, got: () => n - 1 };
    };
    const reader = await open();
    const stalled = await open();
    // It stops reading: what Parley sends fills the kernel's buffers, then Parley's.
    (stalled.ws as unknown as { _socket: net.Socket })._socket.pause();
    const clients = api.app.websocketServer.clients;
    assert.equal(clients.size, 2);
    // Events as the hub publishes them (rule.matched for each request a rule answers: anyone
    // who can send SIP can make them); 2 kB each, 20 MB in all, paced by the reader.
    const pad = 'x'.repeat(2000);
    const total = 10_000;
    for (let i = 0; i < total; i += 100) {
      for (let k = 0; k < 100; k++) api.hub.publish('rule.matched', { rule: 'flood', method: 'INVITE', callId: `c${i + k}`, outcome: 'respond', requestUri: `sip:${pad}@x` });
      await waitFor('the reader keeps up', () => reader.got() >= i + 100 || undefined, 10_000);
    }
    // Without a limit the stalled client stays, and every event after the kernel's buffers
    // filled (~14 MB here) waits in Parley's memory for a reader that never comes.
    await waitFor('the stalled client cut off', () => clients.size === 1 || undefined, 10_000);
    assert.equal(reader.got(), total, 'the client that reads got every event');
    assert.equal(reader.ws.readyState, WebSocket.OPEN);
    assert.equal(api.hub.listenerCount('event'), 2, 'the hub: the reader and the metrics/webhooks listener only');
    // A client that (re)connects late gets the kept events (5000 of 2 kB, 10 MB: more than the
    // unread limit, sent in one go) and is not taken for one that stopped reading.
    const late = new WebSocket(`${url}?since=0`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    let replayed = 0;
    late.on('message', () => replayed++);
    await waitFor('the replay', () => replayed >= 5001 || undefined, 10_000);
    assert.equal(late.readyState, WebSocket.OPEN, 'the late client is still connected');
    late.close();
    reader.ws.close();
    stalled.ws.terminate();
  });

  it('since=0 on a full backlog: a client that reads none of its replay is cut off at api.requestTimeoutMs; one that reads gets every kept event, then the live ones, no gap', async () => {
    const api = parley().app.api!;
    const url = `${apiBase(parley()).replace('http', 'ws')}/events?since=0`;
    const auth = { headers: { authorization: `Bearer ${TEST_TOKEN}` } };
    const clients = api.app.websocketServer.clients;
    const pad = 'y'.repeat(4000);
    // 5000 kept events of 4 kB: 20 MB to replay, more than the kernel's buffers hold.
    for (let i = 0; i < 5000; i++) api.hub.publish('rule.matched', { rule: 'replay', method: 'INVITE', callId: `r${i}`, outcome: 'respond', requestUri: `sip:${pad}@x` });
    const [first, last] = [api.hub.oldestSeq, api.hub.lastSeq];
    const stalled = new WebSocket(url, auth);
    stalled.on('error', () => undefined);
    await new Promise((r) => stalled.once('open', r));
    (stalled as unknown as { _socket: net.Socket })._socket.pause();
    const reader = new WebSocket(url, auth);
    const seqs: number[] = [];
    reader.on('message', (m) => {
      const e = JSON.parse(m.toString()) as { type: string; seq?: number };
      if (e.type !== 'hello') seqs.push(e.seq!);
    });
    await waitFor('the replay read', () => seqs.length >= last - first + 1 || undefined, 60_000);
    api.hub.publish('rule.matched', { rule: 'live', method: 'INVITE', callId: 'live', outcome: 'respond', requestUri: 'sip:x@x' });
    await waitFor('the live event', () => seqs.length >= last - first + 2 || undefined, 10_000);
    assert.deepEqual(seqs, Array.from({ length: last - first + 2 }, (_, i) => first + i), 'every kept event, then the live one, in order, once');
    // All of it was buffered for the stalled client in one turn, and held: it never read, nothing cut it off.
    await waitFor('the client that never read its replay cut off', () => clients.size === 1 || undefined, 30_000);
    assert.equal(reader.readyState, WebSocket.OPEN);
    reader.close();
    stalled.terminate();
  });

  it('downloads, whole, abandoned or HEAD only, leave no descriptor open; HEAD gives the size and is not logged as an export', async () => {
    const p = parley();
    const base = apiBase(p);
    const { id, meta } = await recording();
    const url = `${base}/recordings/${id}/files/${meta.mix.file}`;
    const auth = { authorization: `Bearer ${TEST_TOKEN}` };
    // Parley runs in this process: its descriptors are ours.
    const openOnRecording = (): string[] =>
      readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          const target = readlinkSync(`/proc/self/fd/${fd}`);
          return target.includes(id) ? [target] : [];
        } catch {
          return [];
        }
      });
    const audit = join(p.recordingDir, '.parley', 'audit.jsonl');
    const exports = (): number => readFileSync(audit, 'utf8').split('\n').filter((l) => l.includes('"event":"exported"')).length;
    const exportsBefore = exports();
    let size = 0;
    for (let i = 0; i < 5; i++) {
      const r = await fetch(url, { headers: auth });
      assert.equal(r.status, 200);
      size = (await r.arrayBuffer()).byteLength;
    }
    for (let i = 0; i < 5; i++) {
      const ac = new AbortController();
      const r = await fetch(url, { headers: auth, signal: ac.signal });
      ac.abort();
      await r.arrayBuffer().catch(() => undefined);
    }
    for (let i = 0; i < 3; i++) {
      const r = await fetch(url, { method: 'HEAD', headers: auth });
      assert.equal(r.status, 200);
      assert.equal(Number(r.headers.get('content-length')), size, 'HEAD: the size of the file');
      assert.match(r.headers.get('content-type') ?? '', /audio\/wav/);
    }
    const head404 = await fetch(`${base}/recordings/${id}/files/${id}.nothing.wav`, { method: 'HEAD', headers: auth });
    assert.equal(head404.status, 404);
    // Before, every download kept its descriptor until the garbage collector closed it.
    await waitFor('no descriptor left open on the recording', () => openOnRecording().length === 0 || undefined, 5000).catch(() => {
      throw new Error(`descriptors still open: ${openOnRecording().join(', ')}`);
    });
    assert.equal(exports() - exportsBefore, 10, 'one exported entry per GET, none per HEAD');
  });

  it('a page of 1000 recordings is read a few sidecars at a time, not with 1000 descriptors open at once', async () => {
    const p = parley();
    const base = apiBase(p);
    const { id } = await recording();
    const dir = p.recordingDir;
    const text = readFileSync(join(dir, `${id}.json`), 'utf8');
    for (let i = 0; i < 1000; i++) writeFileSync(join(dir, `adv-list-${i}.json`), text.replaceAll(id, `adv-list-${i}`));
    const list = async (): Promise<unknown[]> => (await call(base, 'GET', '/recordings?limit=1000')).body as unknown[];
    // The index notices sidecars put into the folder by its watch.
    await waitFor('the index holds them', async () => ((await list()).length >= 1000) || undefined, 20_000);
    const open = (): number =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
        } catch {
          return false;
        }
      }).length;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, open())), 1);
    try {
      assert.equal((await list()).length, 1000);
    } finally {
      clearInterval(sampler);
    }
    // Before, all 1000 sidecars were opened at once: a process with the common limit of 1024 descriptors ran out.
    assert.ok(peak <= 64, `descriptors open on recording.dir at once: ${peak}`);
  });
});

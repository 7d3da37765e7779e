// parley-tests: beside (judges no real-time audio: run beside other test files, scripts/run-tests.sh)
// Every log line Parley writes is one JSON object with each key once. pino writes a child's
// bindings after its parent's without merging them, so a child logger naming a component under
// a parent that named one wrote `"component"` twice: the media engine's worker pool and media
// threads (under `media`), the mixer of each room (under its `media-thread`). A reader that keeps
// the first or the last sees different lines, and a strict one refuses them (Elasticsearch
// rejects a document with a duplicate field). Checked on the real process's output: its start,
// and a G.722 call (the room's mixer logs its rate) answered, beeped at and hung up.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { spawnParley } from '../helpers/parley-process.ts';
import { RawSipClient } from '../helpers/raw-sip-client.ts';
import { RtpPeer } from '../helpers/rtp-peer.ts';
import { gatewayYaml } from './helpers.ts';
import { RawDialog, statusOf } from './raw-dialog.ts';

/** The keys of a JSON object written twice at its top level (a string-aware scan: JSON.parse keeps one). */
function duplicateTopKeys(line: string): string[] {
  const seen = new Set<string>();
  const dups: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      let j = i + 1;
      while (j < line.length && line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) {
        const key = line.slice(i + 1, j);
        if (seen.has(key)) dups.push(key);
        seen.add(key);
        expectKey = false;
      }
      i = j;
    } else if (ch === '{' || ch === '[') {
      depth++;
      expectKey = depth === 1 && ch === '{';
    } else if (ch === '}' || ch === ']') depth--;
    else if (ch === ',' && depth === 1) expectKey = true;
  }
  return dups;
}

describe('log lines', () => {
  it('name each key once (the start, a call and its media thread)', async () => {
    assert.deepEqual(duplicateTopKeys('{"a":1,"b":{"a":2},"c":"x\\"a\\":","a":3}'), ['a'], 'the scan finds a key written twice, and only at the top');
    const proc = await spawnParley(gatewayYaml('beep', ['answer', 'play: { tone: beep }', 'hangup']));
    const ua = await RawSipClient.open();
    const phone = await new RtpPeer({ codec: 'G722' }).bind();
    try {
      const d = new RawDialog(ua, proc.sipPort, 'log-keys');
      const ok = await d.invite(phone.sdp());
      assert.equal(statusOf(ok), 200, ok.split('\r\n')[0]);
      // The media thread's mixer logs the room's new rate (16 kHz for G.722).
      await proc.logged(/room rate changed/);
      const bye = await ua.nextMatching(/^BYE /, 15_000);
      ua.send(proc.sipPort, bye.replace(/^BYE [^\r]*/, 'SIP/2.0 200 OK').replace(/\r\n(Max-Forwards|Contact|Content-Type):[^\r]*/gi, ''));
      await proc.logged(/room closed/);
    } finally {
      ua.close();
      await phone.close();
      proc.child.kill('SIGTERM');
      await once(proc.child, 'exit');
    }
    const json = proc.raw.filter((l) => l.startsWith('{'));
    assert.ok(json.length > 10, `JSON log lines: ${json.length}`);
    assert.ok(json.some((l) => /"msg":"room rate changed"/.test(l)), 'a media thread line is among them');
    const bad = json.map((l) => ({ l, dups: duplicateTopKeys(l) })).filter((x) => x.dups.length > 0);
    assert.deepEqual(bad.map((x) => `${x.dups.join(',')}: ${x.l.slice(0, 200)}`), [], 'lines with a key written twice');
  });
});

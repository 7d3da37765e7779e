// The recording safety settings: config keys validated with the key named, and
// which flows count as recording for recording.minFreeBytes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { flowRecords } from '../../../src/call/call-recording.ts';
import { parseConfig } from '../../../src/config/load-config.ts';

describe('recording safety config', () => {
  it('defaults: keep the call on a write error, refuse recording calls under 100 MB free', () => {
    const c = parseConfig('flows: {}\n');
    assert.equal(c.recording.onWriteError, 'continue');
    assert.equal(c.recording.minFreeBytes, 100_000_000);
  });

  it('accepts hangup and 0 (no free-space check)', () => {
    const c = parseConfig('recording: { onWriteError: hangup, minFreeBytes: 0 }\n');
    assert.deepEqual([c.recording.onWriteError, c.recording.minFreeBytes], ['hangup', 0]);
  });

  it('names the key of a bad value', () => {
    assert.throws(() => parseConfig('recording: { onWriteError: ignore }\n'), /recording\.onWriteError/);
    assert.throws(() => parseConfig('recording: { minFreeBytes: -1 }\n'), /recording\.minFreeBytes/);
    assert.throws(() => parseConfig('recording: { minFreeBytes: 1.5 }\n'), /recording\.minFreeBytes/);
  });
});

describe('flowRecords (which calls recording.minFreeBytes refuses)', () => {
  const flows = parseConfig(`
flows:
  direct: [{ answer: null }, { record: { action: start } }, { bridge: {} }]
  plain: [{ answer: null }, { bridge: { fallback: voicemail } }]
  ivr: [{ menu: { prompt: { prompt: m }, branches: { "1": plain, "2": sales }, fallback: bye } }]
  sales: [{ bridge: {} }]
  voicemail: [{ play: { prompt: beep } }, { record: { action: start } }, { hangup: null }]
  bye: [{ hangup: null }]
  stops: [{ record: { action: stop } }, { goto: bye }]
  loop: [{ goto: loop2 }]
  loop2: [{ goto: loop }]
`).flows;
  it('a record start in the flow, or in a flow it can reach (goto, menu, bridge fallback)', () => {
    assert.equal(flowRecords(flows, 'direct'), true);
    assert.equal(flowRecords(flows, 'plain'), true, 'through the bridge fallback');
    assert.equal(flowRecords(flows, 'ivr'), true, 'through a menu branch');
  });
  it('flows that never start a recording, loops included', () => {
    assert.equal(flowRecords(flows, 'sales'), false);
    assert.equal(flowRecords(flows, 'stops'), false, 'a stop is not a start');
    assert.equal(flowRecords(flows, 'loop'), false);
    assert.equal(flowRecords(flows, 'missing'), false);
  });
});

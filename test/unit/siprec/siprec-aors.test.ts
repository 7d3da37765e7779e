// A SIPREC participant named by several nameIDs (a sip: AOR and a tel: one, as Cisco CUBE
// and Avaya send): every AOR is kept, in the metadata read, the sidecar and the recordings
// index, so that GET /recordings?participant= finds the recording by any of them.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SiprecView } from '../../../src/call/siprec-view.ts';
import { entryOf } from '../../../src/recording/compliance/index-entry.ts';
import { RecordingIndex } from '../../../src/recording/compliance/recording-index.ts';
import type { RecordingMetadata } from '../../../src/recording/metadata.ts';
import { siprecSummary } from '../../../src/recording/siprec-sidecar.ts';
import { parseRecordingMetadata } from '../../../src/siprec/rs-metadata.ts';
import { silentLogger } from '../../../src/util/logger.ts';

const dir = mkdtempSync(join(tmpdir(), 'parley-siprec-aors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// Cisco CUBE style: each participant with a sip: nameID and a tel: one.
const xml = `<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns="urn:ietf:params:xml:ns:recording:1">
  <datamode>complete</datamode>
  <session session_id="S1"/>
  <participant participant_id="PA">
    <nameID aor="sip:+15551230001@cube.example.com"><name>Alice</name></nameID>
    <nameID aor="tel:+15551230001"/>
  </participant>
  <participant participant_id="PB">
    <nameID aor="sip:bob@example.com"/>
    <nameID aor="tel:+15551230002"/>
    <nameID aor="sip:bob@example.com"/>
  </participant>
  <stream stream_id="ST1" session_id="S1"><label>1</label></stream>
  <participantstreamassoc participant_id="PA"><send>ST1</send></participantstreamassoc>
</recording>`;

describe('SIPREC participants with several nameIDs', () => {
  it('the reader keeps every AOR, the first one primary', () => {
    const m = parseRecordingMetadata(xml);
    assert.deepEqual(m.participants.map((p) => [p.aor, p.aors]), [
      ['sip:+15551230001@cube.example.com', ['sip:+15551230001@cube.example.com', 'tel:+15551230001']],
      ['sip:bob@example.com', ['sip:bob@example.com', 'tel:+15551230002']],
    ]);
  });

  it('the sidecar lists them all, and the recordings search finds the recording by any', async () => {
    const v = new SiprecView('cid');
    v.setStreams([{ index: 0, leg: 's0', label: '1', kind: 'audio' }]);
    v.addMetadata(xml, 'INVITE', 'r.metadata-1.xml');
    const sidecar = v.toSidecar();
    assert.deepEqual(sidecar.participants.map((p) => [p.aor, p.aors]), [
      ['sip:+15551230001@cube.example.com', ['sip:+15551230001@cube.example.com', 'tel:+15551230001']],
      ['sip:bob@example.com', ['sip:bob@example.com', 'tel:+15551230002']],
    ]);
    assert.deepEqual((siprecSummary(sidecar).participants as { aors: string[] }[]).map((p) => p.aors[1]), ['tel:+15551230001', 'tel:+15551230002']);
    const meta = { version: 1, mix: { file: 'r.mix.wav' }, startedAt: '2026-12-07T10:00:00Z', endedAt: null, state: 'recording', legs: [], siprec: sidecar } as unknown as RecordingMetadata;
    const index = new RecordingIndex(dir, join(dir, 'index.journal'), silentLogger());
    after(() => index.close());
    index.put(entryOf('r', meta)!);
    const found = (participant: string): string[] => index.query({ participant, limit: 10 }).entries.map((e) => e.id);
    assert.deepEqual(found('sip:+15551230001@cube.example.com'), ['r']);
    assert.deepEqual(found('tel:+15551230001'), ['r'], 'by the second nameID');
    assert.deepEqual(found('<TEL:+15551230002>'), ['r'], 'case and brackets aside');
    assert.deepEqual(found('tel:+15551230009'), []);
  });
});

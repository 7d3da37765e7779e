// siprec.*: the defaults, a valid section, mistakes name the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';

const bad = (yaml: string, re: RegExp): void => void assert.throws(() => parseConfig(yaml), re);

describe('config siprec', () => {
  it('defaults, and a section that changes them', () => {
    assert.deepEqual(parseConfig('log: { level: info }').siprec, { enabled: true, sources: [], maxStreams: 32, maxMetadataBytes: 65536, stereo: true, stems: true, pauseMode: null, jitterMs: 1000 });
    const c = parseConfig('siprec: { enabled: false, sources: ["10.1.0.0/16", "::1"], maxStreams: 4, maxMetadataBytes: 2048, stereo: false, pauseMode: silence, jitterMs: 2000 }');
    assert.deepEqual(c.siprec, { enabled: false, sources: ['10.1.0.0/16', '::1'], maxStreams: 4, maxMetadataBytes: 2048, stereo: false, stems: true, pauseMode: 'silence', jitterMs: 2000 });
  });

  it('names what is wrong', () => {
    bad('siprec: { enabled: maybe }', /siprec\.enabled/);
    bad('siprec: { sources: ["sbc.example.com"] }', /siprec\.sources\.0: bad address/);
    bad('siprec: { sources: ["10.0.0.0/33"] }', /siprec\.sources\.0: bad prefix length/);
    bad('siprec: { maxStreams: 0 }', /siprec\.maxStreams/);
    bad('siprec: { maxStreams: 1000 }', /siprec\.maxStreams/);
    bad('siprec: { maxMetadataBytes: 10 }', /siprec\.maxMetadataBytes/);
    bad('siprec: { stems: 1 }', /siprec\.stems/);
    bad('siprec: { pauseMode: gap }', /siprec\.pauseMode/);
    bad('siprec: { jitterMs: 60 }', /siprec\.jitterMs/);
    bad('siprec: { jitterMs: 5000 }', /siprec\.jitterMs/);
    bad('siprec: { jitterMs: 250 }', /siprec\.jitterMs/);
    bad('siprec: { pausemode: skip }', /siprec\.pausemode: unknown key/);
  });
});

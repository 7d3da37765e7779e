// siprec.*: the defaults, a valid section, mistakes name the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';

const bad = (yaml: string, re: RegExp): void => void assert.throws(() => parseConfig(yaml), re);

describe('config siprec', () => {
  it('defaults, and a section that changes them', () => {
    const budget = { sessionBytesPerSecond: 32768, sessionBurstBytes: 262144, sourceBytesPerSecond: 524288, sourceBurstBytes: 2097152 };
    assert.deepEqual(parseConfig('log: { level: info }').siprec, { enabled: true, sources: [], maxStreams: 32, maxMetadataBytes: 49152, metadataBudget: budget, stereo: true, stems: true, pauseMode: null, jitterMs: 600 });
    const c = parseConfig('siprec: { enabled: false, sources: ["10.1.0.0/16", "::1"], maxStreams: 4, maxMetadataBytes: 2048, stereo: false, pauseMode: silence, jitterMs: 2000 }');
    assert.deepEqual(c.siprec, { enabled: false, sources: ['10.1.0.0/16', '::1'], maxStreams: 4, maxMetadataBytes: 2048, metadataBudget: budget, stereo: false, stems: true, pauseMode: 'silence', jitterMs: 2000 });
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
    bad('siprec: { metadataBudget: { sessionBytesPerSecond: 0 } }', /siprec\.metadataBudget\.sessionBytesPerSecond/);
    bad('siprec: { metadataBudget: { sourceBurstBytes: 1.5 } }', /siprec\.metadataBudget\.sourceBurstBytes/);
    bad('siprec: { metadataBudget: { perSource: 1 } }', /siprec\.metadataBudget\.perSource: unknown key/);
    bad('siprec: { maxMetadataBytes: 1048576 }', /siprec\.metadataBudget\.sessionBurstBytes: 262144 is less than siprec\.maxMetadataBytes \(1048576\)/);
    bad('siprec: { metadataBudget: { sourceBurstBytes: 4096 } }', /siprec\.metadataBudget\.sourceBurstBytes: 4096 is less than siprec\.maxMetadataBytes/);
    // A document that large would come in an INVITE refused 513 (sip.maxMessageSize) before its metadata is read.
    bad('siprec: { maxMetadataBytes: 262144 }', /siprec\.maxMetadataBytes: 262144 and an INVITE's headers and SDP \(8192 bytes\) do not fit in sip\.maxMessageSize \(65535\)/);
  });

  it('a larger metadata limit with a larger sip.maxMessageSize is taken; SIPREC off, the limit is not checked', () => {
    assert.equal(parseConfig('sip: { maxMessageSize: 270336 }\nsiprec: { maxMetadataBytes: 262144 }').siprec.maxMetadataBytes, 262144);
    assert.equal(parseConfig('siprec: { enabled: false, maxMetadataBytes: 262144 }').siprec.maxMetadataBytes, 262144);
  });

  it('a metadata budget that changes one key keeps the others', () => {
    const c = parseConfig('siprec: { metadataBudget: { sessionBytesPerSecond: 2048, sessionBurstBytes: 65536 } }');
    assert.deepEqual(c.siprec.metadataBudget, { sessionBytesPerSecond: 2048, sessionBurstBytes: 65536, sourceBytesPerSecond: 524288, sourceBurstBytes: 2097152 });
  });
});

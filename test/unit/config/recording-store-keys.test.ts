// recording.encryption and recording.store: valid files load, mistakes name the key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/load-config.ts';

const bad = (yaml: string, re: RegExp): void => void assert.throws(() => parseConfig(yaml), re);

describe('config recording.encryption / recording.store', () => {
  it('loads both', () => {
    const c = parseConfig(`recording:
  encryption: { enabled: true, masterKeyEnv: PARLEY_MASTER_KEY }
  store: { type: s3, endpoint: "http://127.0.0.1:9000", bucket: calls, prefix: parley/, accessKeyId: a, secretAccessKey: b }
`);
    assert.deepEqual(c.recording.encryption, { enabled: true, masterKeyEnv: 'PARLEY_MASTER_KEY' });
    assert.equal(c.recording.store?.bucket, 'calls');
    assert.equal(parseConfig('log: { level: info }').recording.store, undefined);
  });

  it('names what is wrong', () => {
    bad('recording: { encryption: { enabled: true } }', /recording\.encryption: exactly one of masterKeyFile and masterKeyEnv/);
    bad('recording: { encryption: { enabled: true, masterKeyFile: a, masterKeyEnv: B } }', /exactly one of masterKeyFile and masterKeyEnv/);
    bad('recording: { postProcess: ogg, encryption: { enabled: true, masterKeyFile: k } }', /recording\.postProcess: must be 'none' when recording\.encryption\.enabled/);
    bad('recording: { encryption: { enabled: true, masterKeyEnv: "1x" } }', /recording\.encryption\.masterKeyEnv/);
    bad('recording: { store: { type: s3, bucket: "Bad_Bucket" } }', /recording\.store\.bucket/);
    bad('recording: { store: { type: gcs, bucket: calls } }', /recording\.store\.type/);
    bad('recording: { store: { type: s3, bucket: calls, endpoint: "ftp://x" } }', /recording\.store\.endpoint/);
    bad('recording: { store: { type: s3, bucket: calls, accessKeyId: a } }', /recording\.store\.secretAccessKey: accessKeyId and secretAccessKey go together/);
    bad('recording: { store: { type: s3, bucket: calls, retryBaseMs: 5000, retryMaxMs: 100 } }', /recording\.store\.retryBaseMs/);
  });
});

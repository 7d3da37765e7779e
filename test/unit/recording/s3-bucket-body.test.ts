// S3Bucket's request bodies (src/recording/store/s3-bucket.ts) are opened before the
// request is sent: a file that cannot be opened fails the PUT with the open's error, and
// a request that fails first (an endpoint refusing connections) leaves no read stream to
// emit that error later with no listener (an uncaught exception ends Parley; the
// uploader reads through /proc/self/fd/<fd>, which its close() can close meanwhile).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RecordingStoreConfig } from '../../../src/config/recording-store-schema.ts';
import { S3Bucket } from '../../../src/recording/store/s3-bucket.ts';
import { freePort } from '../../helpers/free-port.ts';

describe('S3Bucket request bodies', () => {
  it('a PUT of a file that cannot be opened fails with the open\'s error, and nothing is thrown later', async () => {
    // Nothing listens on the port: the request is refused.
    const port = await freePort();
    const bucket = new S3Bucket({ type: 's3', bucket: 'recordings', endpoint: `http://127.0.0.1:${port}`, accessKeyId: 'k', secretAccessKey: 's' } as RecordingStoreConfig);
    const uncaught: Error[] = [];
    const onUncaught = (err: Error): void => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    try {
      for (let i = 0; i < 5; i++) {
        await assert.rejects(bucket.put('k', '/nonexistent/parley-upload', 5, Buffer.alloc(16), 'x'), /ENOENT/);
      }
      // The stream's open of a body made before the request would fail by now (an fs call, then a tick).
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setTimeout(r, 0));
      assert.deepEqual(uncaught.map((e) => e.message), []);
    } finally {
      process.off('uncaughtException', onUncaught);
      bucket.close();
    }
  });
});

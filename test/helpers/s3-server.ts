// A real S3-compatible server for tests (s3rver, files in a temp folder) behind a
// small HTTP gate the test controls: 'pass' forwards every request, 'down'
// destroys each connection (an endpoint that is unreachable), 'fail500' answers
// 500 InternalError, 'stallPut' forwards all but PUTs, which it takes and never
// answers (an upload in progress, for killing Parley in the middle of one); 'stallGet'
// holds every GET (HEADs pass) until releaseGets() (a download from the bucket in progress);
// maxPutBytes refuses a whole-object PUT past it (S3's 5 GiB limit, scaled down).
// s3rver 3.7 has no AbortMultipartUpload (it answers 405 MethodNotAllowed): the gate
// answers it from s3rver's own storage, as S3 does: the upload's folder (its parts)
// removed and 204, or 404 NoSuchUpload when s3rver holds no such upload (completed or
// aborted already).
// Client settings: ../shared/notes/test-peers-2.md.
import { mkdtemp, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export type GateMode = 'pass' | 'down' | 'fail500' | 'stallPut' | 'stallGet';

export interface S3TestServer {
  /** The gate's URL: what Parley is configured with. */
  endpoint: string;
  bucket: string;
  /** s3rver itself (past the gate), for the test's own checks. */
  directEndpoint: string;
  mode: GateMode;
  /** s3rver's folder (the test greps it). */
  directory: string;
  /** PUTs held by 'stallPut'. */
  stalledPuts: number;
  /** GETs held by 'stallGet', not yet released. */
  heldGets: number;
  /** Forwards the GETs 'stallGet' holds (the mode stays as it is). */
  releaseGets(): void;
  /** Requests the gate saw, by mode. */
  seen: Record<GateMode, number>;
  /** A PUT of one whole object (not a part) with more bytes is refused 400 EntityTooLarge, as S3 does past 5 GiB; null: no limit. */
  maxPutBytes: number | null;
  /** s3rver's folder of a multipart upload not completed nor aborted (its parts, `1`, `2`…). */
  uploadDir(uploadId: string): string;
  /** Called with every request the gate takes (before it is forwarded). */
  observe: ((req: http.IncomingMessage, res: http.ServerResponse) => void) | null;
  stop(): Promise<void>;
}

export async function startS3(bucket = 'recordings'): Promise<S3TestServer> {
  const directory = await mkdtemp(join(tmpdir(), 'parley-s3-'));
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: bucket }] });
  const addr = await s3.run();
  const target = { host: '127.0.0.1', port: addr.port };
  const upstream = new Set<http.ClientRequest>();
  const held: (() => void)[] = [];
  const state: S3TestServer = {
    endpoint: '',
    bucket,
    directEndpoint: `http://127.0.0.1:${addr.port}`,
    mode: 'pass',
    directory,
    stalledPuts: 0,
    heldGets: 0,
    releaseGets: () => {
      const go = held.splice(0);
      state.heldGets = 0;
      for (const f of go) f();
    },
    maxPutBytes: null,
    seen: { pass: 0, down: 0, fail500: 0, stallPut: 0, stallGet: 0 },
    observe: null,
    uploadDir: (uploadId) => join(directory, bucket, '._S3rver_uploads', uploadId),
    stop: async () => {
      gate.closeAllConnections();
      for (const up of upstream) up.destroy();
      await new Promise<void>((r) => gate.close(() => r()));
      await s3.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
  const gate = http.createServer((req, res) => {
    state.seen[state.mode]++;
    state.observe?.(req, res);
    if (state.mode === 'down') {
      req.socket.destroy();
      return;
    }
    if (state.mode === 'stallPut' && req.method === 'PUT') {
      state.stalledPuts++;
      req.resume();
      return;
    }
    const whole = req.method === 'PUT' && !/[?&]uploadId=/.test(req.url ?? '');
    if (whole && state.maxPutBytes !== null && Number(req.headers['content-length'] ?? 0) > state.maxPutBytes) {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>EntityTooLarge</Code><Message>Your proposed upload exceeds the maximum allowed object size.</Message></Error>');
      return;
    }
    const abort = req.method === 'DELETE' ? /[?&]uploadId=([^&]+)/.exec(req.url ?? '') : null;
    if (abort && state.mode === 'pass') {
      req.resume();
      void abortUpload(state, decodeURIComponent(abort[1]!), res);
      return;
    }
    if (state.mode === 'fail500') {
      req.resume();
      res.writeHead(500, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>test gate</Message></Error>');
      return;
    }
    if (state.mode === 'stallGet' && req.method === 'GET') {
      held.push(() => forward(req, res));
      state.heldGets = held.length;
      return;
    }
    forward(req, res);
  });
  const forward = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const up = http.request({ ...target, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    // A client gone mid-request (a Parley stopped or killed during an upload) takes its
    // upstream request with it: left open, s3rver would wait for the rest of the body
    // and its close() (stop()) for that request, forever.
    upstream.add(up);
    up.on('close', () => upstream.delete(up));
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  };
  await new Promise<void>((r) => gate.listen(0, '127.0.0.1', r));
  state.endpoint = `http://127.0.0.1:${(gate.address() as AddressInfo).port}`;
  return state;
}

/** AbortMultipartUpload on s3rver's storage (see the head of this file). */
async function abortUpload(s: S3TestServer, uploadId: string, res: http.ServerResponse): Promise<void> {
  const dir = s.uploadDir(uploadId);
  if (!/^[0-9a-f]+$/.test(uploadId) || !(await stat(dir).then(() => true, () => false))) {
    res.writeHead(404, { 'content-type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${uploadId}</UploadId></Error>`);
    return;
  }
  await rm(dir, { recursive: true, force: true });
  res.writeHead(204);
  res.end();
}

/** recording.store for the server (path-style, s3rver's fixed credentials). */
export function storeConfig(s: S3TestServer, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 's3',
    endpoint: s.endpoint,
    bucket: s.bucket,
    prefix: 'parley/',
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    forcePathStyle: true,
    retryBaseMs: 100,
    retryMaxMs: 1000,
    ...extra,
  };
}

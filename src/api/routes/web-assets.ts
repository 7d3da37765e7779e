// The browser participant's page and scripts, built from web/webrtc/ by
// scripts/build-web.mjs into web/dist/webrtc/ (committed; the tests check it is
// current). Public: they hold no data; the page asks the API, with the token
// from its URL fragment (#token=…, never sent to a server) or the console's
// session cookie.
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../api-error.ts';

const DIST = new URL('../../../web/dist/webrtc/', import.meta.url);

/** The files served, and their content types: nothing else in the folder is reachable. */
const ASSETS: Record<string, string> = {
  'join.js': 'text/javascript; charset=utf-8',
  'webrtc-client.js': 'text/javascript; charset=utf-8',
};

export function webAssetRoutes(app: FastifyInstance): void {
  const cache = new Map<string, Promise<Buffer>>();
  const load = (file: string): Promise<Buffer> => {
    let p = cache.get(file);
    if (!p) {
      p = readFile(new URL(file, DIST));
      p.catch(() => cache.delete(file));
      cache.set(file, p);
    }
    return p;
  };
  const missing = (file: string): ApiError => new ApiError(500, 'internal', `web/dist/webrtc/${file} is missing: run npm run build:web`);

  app.get(
    '/webrtc/join/:room',
    {
      config: { public: true },
      schema: {
        summary: "The browser participant's page (public; it asks for the API token, or takes it from #token=…); a room that does not exist is reported by the page",
        params: { type: 'object', required: ['room'], properties: { room: { type: 'string', minLength: 1, maxLength: 128 } } },
        security: [],
      },
    },
    async (_req, reply) => {
      const html = await load('join.html').catch(() => {
        throw missing('join.html');
      });
      return reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('content-security-policy', "default-src 'self'; connect-src 'self'; media-src 'self' blob: mediastream:; style-src 'self' 'unsafe-inline'")
        .header('referrer-policy', 'no-referrer')
        .send(html);
    },
  );

  app.get(
    '/webrtc/assets/:file',
    {
      config: { public: true },
      schema: {
        summary: "The participant page's script, and webrtc-client.js (an ES module the console imports)",
        params: { type: 'object', required: ['file'], properties: { file: { type: 'string', enum: Object.keys(ASSETS) } } },
        security: [],
      },
    },
    async (req, reply) => {
      const file = (req.params as { file: string }).file;
      const body = await load(file).catch(() => {
        throw missing(file);
      });
      return reply.type(ASSETS[file]!).header('cache-control', 'no-cache').send(body);
    },
  );
}

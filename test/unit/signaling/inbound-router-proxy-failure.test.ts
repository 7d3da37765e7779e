// A proxy the SIP server refuses (srf.proxyRequest calls back with an error, an NOK) must
// still end the caller's transaction: a 500 with a Warning saying why, at once, not the
// backstop's 500 64*T1 later. Fake drachtio-srf request, response and proxyRequest.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type Srf from 'drachtio-srf';
import { defaultConfig } from '../../../src/config/schema.ts';
import { RoutingTable } from '../../../src/policy/routing-table.ts';
import { InboundRouter } from '../../../src/signaling/inbound-router.ts';
import { silentLogger } from '../../../src/util/logger.ts';

function fakeRequest(): Srf.SrfRequest {
  const headers: Record<string, string> = { 'call-id': 'c1', from: '<sip:a@127.0.0.1>;tag=1', to: '<sip:bob@127.0.0.1>', cseq: '1 INVITE' };
  return {
    method: 'INVITE',
    uri: 'sip:bob@127.0.0.1:5999',
    body: '',
    source_address: '127.0.0.1',
    get: (n: string) => headers[n.toLowerCase()],
    has: (n: string) => n.toLowerCase() in headers,
  } as unknown as Srf.SrfRequest;
}

describe('InboundRouter: proxying refused by the SIP server', () => {
  it('the caller gets 500 with a Warning at once', () => {
    const sent: Array<{ status: number; reason?: unknown; opts?: { headers?: Record<string, string> } }> = [];
    const res = {
      finalResponseSent: false,
      send(status: number, reason?: unknown, opts?: { headers?: Record<string, string> }) {
        sent.push({ status, reason, opts });
        this.finalResponseSent = true;
      },
    };
    const srf = {
      proxyRequest: (_req: unknown, _targets: unknown, _opts: unknown, cb: (err: unknown, result?: unknown) => void) => cb(new Error('headers in the Request-URI')),
    } as unknown as Srf;
    const router = new InboundRouter(srf, new RoutingTable({ ...defaultConfig.routing, proxyByDefault: true }, {}), silentLogger());
    router.route(fakeRequest(), res as unknown as Srf.SrfResponse);
    assert.equal(sent.length, 1, 'one final response');
    assert.equal(sent[0]!.status, 500);
    assert.match(sent[0]!.opts?.headers?.Warning ?? '', /^399 parley "proxying failed: headers in the Request-URI"$/);
  });
});

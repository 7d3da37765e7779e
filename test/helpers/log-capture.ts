// A pino logger whose JSON lines a test can read back, to check that something was logged.
import { PassThrough } from 'node:stream';
import { createLogger, type Logger } from '../../src/util/logger.ts';

export interface LogCapture {
  log: Logger;
  /** Every line so far, parsed. */
  lines(): Array<Record<string, unknown> & { msg?: string }>;
  /** Lines whose message matches. */
  find(msg: RegExp): Array<Record<string, unknown>>;
}

export function captureLog(level = 'info'): LogCapture {
  const stream = new PassThrough();
  const raw: string[] = [];
  let partial = '';
  stream.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString('utf8')).split('\n');
    partial = parts.pop() ?? '';
    raw.push(...parts.filter((p) => p.trim()));
  });
  const lines = (): Array<Record<string, unknown> & { msg?: string }> => raw.map((l) => JSON.parse(l) as Record<string, unknown> & { msg?: string });
  return {
    log: createLogger({ level, pretty: false }, stream),
    lines,
    find: (msg) => lines().filter((l) => typeof l.msg === 'string' && msg.test(l.msg)),
  };
}

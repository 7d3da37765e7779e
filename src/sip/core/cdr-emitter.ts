// drachtio's CDR events (cdr:attempt, cdr:start, cdr:stop) for INVITE sessions, sent to every
// app that routed them: `uuid|cdr:<event>|<source>|<time>[|<role or reason>]` + CRLF + message.
import type { SipMessage } from '../message/sip-message.ts';
import type { CoreContext } from './core-context.ts';
import { stackTime } from './message-factory.ts';

export type CdrSource = 'network' | 'application';
export type CdrRole = 'uac' | 'uas' | 'proxy-uac' | 'proxy-uas';
export type CdrReason = 'call-rejected' | 'call-canceled' | 'normal-release' | 'session-expired' | 'system-error';

export function cdrAttempt(ctx: CoreContext, source: CdrSource, msg: SipMessage): void {
  emit(ctx, 'attempt', source, null, msg);
}

export function cdrStart(ctx: CoreContext, source: CdrSource, role: CdrRole, msg: SipMessage): void {
  emit(ctx, 'start', source, role, msg);
}

export function cdrStop(ctx: CoreContext, source: CdrSource, reason: CdrReason, msg: SipMessage): void {
  emit(ctx, 'stop', source, reason, msg);
}

function emit(ctx: CoreContext, event: string, source: CdrSource, extra: string | null, msg: SipMessage): void {
  const conns = ctx.control().routes.all(`cdr:${event}`);
  if (!conns.length) return;
  const payload = `cdr:${event}|${source}|${stackTime()}${extra === null ? '' : `|${extra}`}\r\n${msg.toString()}`;
  for (const c of conns) c.send(payload);
}

// The event stream over a WebSocket (the session cookie authorizes it), from a
// given seq: a reconnect asks for what came after the last event seen; when the
// server no longer keeps those (the hello's oldestSeq is past them) the app takes
// a new snapshot instead.
import type { ApiEvent } from './live-state.ts';

export interface StreamHandlers {
  event(e: ApiEvent): void;
  /** Events were missed (kept no longer): take a new snapshot. */
  gap(): void;
  status(connected: boolean): void;
}

export class EventStream {
  private ws: WebSocket | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    private since: number,
    private readonly h: StreamHandlers,
  ) {
    this.connect();
  }

  private connect(): void {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${proto}//${location.host}/events?since=${this.since}`);
    this.ws = ws;
    ws.onopen = () => this.h.status(true);
    ws.onmessage = (m) => {
      const e = JSON.parse(String(m.data)) as ApiEvent & { lastSeq?: number; oldestSeq?: number };
      if (e.type === 'hello') {
        if ((e.oldestSeq ?? 0) > this.since + 1 && (e.lastSeq ?? 0) > this.since) this.h.gap();
        return;
      }
      this.since = Math.max(this.since, e.seq);
      this.h.event(e);
    };
    ws.onclose = () => {
      this.h.status(false);
      if (this.closed) return;
      this.timer = setTimeout(() => this.connect(), 1000);
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.ws?.close();
  }
}

// The rule chain as it is written in the config's `routing` section (see README,
// "Routing rules"). The engine compiles these once per config load.

/** A glob (`*` any run, `?` one character; case-insensitive) or a regex written `/…/flags`. */
export type Pattern = string;

export type HeaderCondition =
  | Pattern
  | { present: boolean }
  | { contains: string }
  | { regex: string };

export type MediaKind = 'audio' | 'video' | 'message' | 'application' | 'image' | 'text' | 'none';

export interface MatchConfig {
  /** One method or a list (INVITE, MESSAGE, …). */
  method?: string | string[];
  /** Patterns over the bare URI of From, To and the Request-URI. */
  from?: Pattern;
  to?: Pattern;
  requestUri?: Pattern;
  userAgent?: Pattern;
  headers?: Record<string, HeaderCondition>;
  /** The request matches when its SDP offers any of these media kinds (`none`: no SDP media at all). */
  media?: MediaKind | MediaKind[];
  /** Pattern over the body text (a glob must match the whole body; use `*word*` for contains). */
  body?: Pattern;
  /** Source address: an exact address or a CIDR (IPv4 or IPv6), or a list of them. */
  source?: string | string[];
}

export interface ProxyAction {
  /** Where to send it; absent or empty: the default route, else the (retargeted) Request-URI. */
  targets?: string[];
  mode?: 'serial' | 'parallel';
  /** Stay in the dialog's path (Record-Route). */
  recordRoute?: boolean;
}

export interface HeaderEdits {
  remove?: string[];
  add?: Record<string, string>;
  set?: Record<string, string>;
}

export type ActionConfig =
  | { proxy: ProxyAction | null }
  | { retarget: string }
  | { redirect: { status?: number; contacts: string[] } }
  | { respond: { status: number; reason?: string; headers?: Record<string, string> } }
  | { headers: HeaderEdits }
  /** `bridgeTo`: where the flow's bridge steps without `to` place the B leg (default `to`, the original To). */
  | { app: string; bridgeTo?: 'to' | 'request-uri' };

export interface RuleConfig {
  name: string;
  enabled?: boolean;
  /** Limit the rule to requests handled for one workflow, or addressed to one user (To URI). */
  scope?: { workflow?: string; user?: string };
  match?: MatchConfig;
  actions: ActionConfig[];
  /** How long the recordings of calls this rule gives to a flow are kept (a record step's own retention wins). */
  retention?: { days: number };
}

export interface RoutingConfig {
  /** A request no rule takes is proxied on (true) or declined with `declineStatus` (false). */
  proxyByDefault: boolean;
  declineStatus: number;
  /** Where `proxy` with no targets sends a request; null: its Request-URI. */
  defaultRoute: string | null;
  /** The header Parley puts on the legs it places; a request carrying it is never taken by an app. */
  /** `secret`: the key of the marker's stamp (policy/loop-marker.ts); null: shared in a cluster, else random per process. */
  loopMarker: { header: string; value: string; secret?: string | null };
  rules: RuleConfig[];
}

export type RouteOutcome =
  | { kind: 'proxy'; targets: string[]; mode: 'serial' | 'parallel'; recordRoute: boolean }
  | { kind: 'redirect'; status: number; contacts: string[] }
  | { kind: 'respond'; status: number; reason: string | undefined; headers: Record<string, string> }
  | { kind: 'app'; flow: string; bridgeTo?: 'to' | 'request-uri' };

export interface HeaderEdit {
  op: 'remove' | 'add' | 'set';
  name: string;
  value?: string;
}

export interface TraceEntry {
  rule: string;
  /** Why the rule was passed over, or 'matched'. */
  result: 'matched' | 'no-match' | 'disabled' | 'out-of-scope';
  /** The conditions that failed, for a rule that did not match. */
  failed?: string[];
  actions?: string[];
}

export interface RouteDecision {
  outcome: RouteOutcome;
  /** The Request-URI after every retarget. */
  requestUri: string;
  headerEdits: HeaderEdit[];
  /** The rule that ended the chain, or null when the default decided. */
  decidedBy: string | null;
  /** True when the loop marker sent the request past every app. */
  loopMarked: boolean;
  trace: TraceEntry[];
}

// The `cluster` section (src/cluster/): several nodes as one service.

export interface ClusterConfig {
  /** This node's name in the cluster: unique, stable across restarts. */
  nodeId: string;
  /** host:port where other nodes and the upstream proxy reach this node's SIP (302 Contacts name it). */
  sipAddress: string;
  /** http(s)://host:port of this node's control API (other nodes forward actions there). */
  apiAddress: string;
  /** redis://host:port[/db] of the shared Redis. */
  redisUrl: string;
  /** How often the node refreshes its registry entry and its room leases. */
  heartbeatMs: number;
  /** How long a node's registry entry lives without a refresh (its death is noticed after this). */
  nodeTtlMs: number;
  /** How long a room lease lives without a renewal (a dead owner's rooms move after this). */
  leaseMs: number;
}

export const clusterSchema = {
  type: 'object',
  nullable: true,
  additionalProperties: false,
  required: ['nodeId', 'sipAddress', 'apiAddress', 'redisUrl', 'heartbeatMs', 'nodeTtlMs', 'leaseMs'],
  properties: {
    nodeId: { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,64}$' },
    sipAddress: { description: 'host:port', type: 'string', pattern: '^[A-Za-z0-9_.:\\[\\]-]+:[0-9]{1,5}$' },
    apiAddress: { type: 'string', pattern: '^https?://[^/]+$' },
    redisUrl: { type: 'string', pattern: '^rediss?://' },
    heartbeatMs: { type: 'integer', minimum: 100, maximum: 60000 },
    nodeTtlMs: { type: 'integer', minimum: 300, maximum: 600000 },
    leaseMs: { type: 'integer', minimum: 300, maximum: 600000 },
  },
} as const;

/** Defaults of the cluster section's tuning keys (the section itself defaults to null). */
export const defaultClusterTuning = { heartbeatMs: 1000, nodeTtlMs: 3000, leaseMs: 5000 } as const;

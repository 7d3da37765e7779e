// Where the cluster keeps its state in Redis: one place for every key name.
export const KEY_PREFIX = 'parley:';

export const keys = {
  /** A node's registry entry (JSON), with a short expiry refreshed by its heartbeat. */
  node: (id: string): string => `${KEY_PREFIX}node:${id}`,
  /** A node's addresses and run id (JSON), without expiry: survivors probe a silent node there before reporting it lost. */
  nodeAddr: (id: string): string => `${KEY_PREFIX}node:${id}:addr`,
  /** Every node that registered and has not been reaped (a Redis set of node ids). */
  nodes: `${KEY_PREFIX}nodes`,
  /** A node's calls in progress (hash: Call-ID → JSON), kept without expiry so survivors can report them. */
  nodeCalls: (id: string): string => `${KEY_PREFIX}node:${id}:calls`,
  /** A room's lease: `<nodeId> <epoch>`, with an expiry renewed by its owner. */
  room: (name: string): string => `${KEY_PREFIX}room:${name}`,
  /**
   * A room owner's SIP address (`host:port`, plain text) for the upstream Kamailio
   * (ndb_redis: `GET parley:owner:<room>`): set, renewed and deleted in the same
   * scripts as the room's lease, with the same expiry.
   */
  owner: (name: string): string => `${KEY_PREFIX}owner:${name}`,
  /** The ownership epoch counter (one for all rooms: epochs only grow). */
  epoch: `${KEY_PREFIX}epoch`,
  /** Who reports a dead node's calls (a short lock, so one survivor does). */
  reap: (id: string): string => `${KEY_PREFIX}reap:${id}`,
  /** A node's webhook journal (hash: delivery id → event) until each is settled; taken over when the node is lost. */
  nodeWebhooks: (id: string): string => `${KEY_PREFIX}node:${id}:webhooks`,
} as const;

/**
 * The ioredis client the limiter expects: a `Redis` for one server (a URL), a `Cluster` for a Redis
 * Cluster (its nodes' URLs). A limiter call sits on the request path, so a sick Redis must fail a command
 * quickly (FailoverLimiter then answers from memory or refuses) rather than hold it:
 * - enableOfflineQueue false: while disconnected, commands are rejected at once instead of queueing
 *   until a reconnect that may never come;
 * - maxRetriesPerRequest 0 and autoResendUnfulfilledCommands false: a command in flight when the
 *   connection drops is failed, never re-sent: the admit script is not idempotent, a resend could
 *   charge a request twice;
 * - commandTimeout: a connected but unresponsive Redis (stuck server, network black hole) fails the
 *   command after this many ms;
 * - enableAutoPipelining: concurrent requests' commands go out in one write, not one syscall each;
 *   except the admit script: RedisLimiter batches admissions itself and sends at once (a command
 *   auto-pipelined from the end of a turn would wait for the next one);
 * - retryStrategy: reconnect forever, with capped backoff, so limiting returns to Redis on its own.
 *
 * On a cluster the same rules, where ioredis puts them (see clusterOptions below).
 *
 * The caller owns the client: attach an 'error' listener (ioredis prints unhandled ones to the console
 * on every failed reconnect), wait for 'ready' before serving if Redis should be up from the start
 * (until then every command fails fast), and quit() it on shutdown.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import type { RedisClient } from '../redis/client.js';
import { ADMIT_COMMAND } from './redis-limiter.js';

const RECONNECT_BASE_MS = 50;
const RECONNECT_MAX_MS = 2_000;

const reconnectDelay = (attempt: number) => Math.min(RECONNECT_BASE_MS * 2 ** attempt, RECONNECT_MAX_MS);

/** One server by URL, or a cluster by (some of) its nodes' URLs. */
export function createLimiterRedis(url: string, commandTimeoutMs: number): Redis;
export function createLimiterRedis(clusterNodes: string[], commandTimeoutMs: number): Cluster;
export function createLimiterRedis(target: string | string[], commandTimeoutMs: number): RedisClient;
export function createLimiterRedis(target: string | string[], commandTimeoutMs: number): RedisClient {
  if (typeof target !== 'string') {
    return connectingEveryNode(new Cluster(target, clusterOptions(target, commandTimeoutMs)));
  }
  return new Redis(target, {
    lazyConnect: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: commandTimeoutMs,
    // Commands issued in the same event-loop turn (concurrent admissions) share one socket write.
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [ADMIT_COMMAND],
    retryStrategy: reconnectDelay,
  });
}

/**
 * The fail-fast rules on a Cluster. Per-node settings go in redisOptions (ioredis keeps each node's
 * offline queue and retry strategy to itself: the cluster-level enableOfflineQueue false is what rejects
 * a command while its node is not connected). Redirections the server answered without running the
 * command are followed: MOVED and ASK (a slot moved: the cluster map is refreshed), TRYAGAIN (a slot
 * being migrated). What may have run is not retried: a connection closed under a command in flight
 * (retryDelayOnFailover 0) fails it, as on one server. CLUSTERDOWN (a primary lost, no replica promoted
 * yet) fails at once too (retryDelayOnClusterDown 0) rather than hold the request through the failover:
 * the limiter's fallback answers meanwhile.
 */
function clusterOptions(nodes: string[], commandTimeoutMs: number): ClusterOptions {
  return {
    lazyConnect: false,
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    autoPipeliningIgnoredCommands: [ADMIT_COMMAND],
    retryDelayOnFailover: 0,
    retryDelayOnClusterDown: 0,
    clusterRetryStrategy: reconnectDelay,
    redisOptions: {
      ...nodeCredentials(nodes[0]!),
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      commandTimeout: commandTimeoutMs,
    },
  };
}

/**
 * ioredis opens a node's connection on the first command for it, and with the offline queue off a second
 * command while it is still connecting is refused: the first requests after start-up or after a failover
 * would fail for nothing. So every node is connected as soon as the cluster is ready, and any node the map
 * names later as soon as it appears (untilReady in src/redis/ready.ts waits for the primaries' connections
 * at start-up). Not before 'ready': ioredis' ready check (CLUSTER INFO to a random node) refuses a node
 * that is connecting, and then drops and reconnects the whole client, whose nodes connect again at the
 * same moment. After a failover the promoted replica is not among the startup nodes and is always just
 * connecting at the check: a gateway started then stayed unready for seconds (limits and budgets from
 * memory, usage and key reads 503). Left waiting, a node connects on the check's command, which waits in
 * the node's own queue.
 */
function connectingEveryNode(cluster: Cluster): Cluster {
  const connect = (node: Redis) => {
    if (node.status === 'wait') node.connect().catch(() => {}); // its errors reach the cluster's 'node error'
  };
  cluster.on('ready', () => cluster.nodes().forEach(connect));
  cluster.on('+node', (node: Redis) => {
    if (cluster.status === 'ready') connect(node);
  });
  return cluster;
}

/**
 * The nodes ioredis discovers (CLUSTER SLOTS) get only redisOptions, not the startup URLs: the user,
 * password and TLS of the first URL go there so every node is reached the same way.
 */
export function nodeCredentials(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const { username, password, protocol } = new URL(url);
  return {
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
    ...(protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

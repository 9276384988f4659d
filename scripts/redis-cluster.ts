/**
 * A private Redis Cluster: three primaries and three replicas (`redis-server --cluster-enabled yes` on
 * free loopback ports, joined by `redis-cli --cluster create --cluster-replicas 1`), with the operations the
 * tests run mid-load: a replica promoted (`CLUSTER FAILOVER`) and a slot resharded with its keys (MIGRATE,
 * the clients see MOVED/ASK). Shared by test/helpers/redis-cluster.ts and bench/cluster.ts (the bench must
 * not import from test/); every server dies with this process (scripts/redis-process.ts).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { type LaunchedRedis, isFree, launchRedis } from './redis-process.js';

export interface RedisCluster {
  /** redis://127.0.0.1:<port> of the three primaries at start: what `redis.cluster.nodes` takes. */
  nodes: string[];
  /** All six ports. */
  ports: number[];
  /** The port of the primary serving the key's slot right now (the slot of its `{tag}`, if it has one). */
  primaryFor(key: string): Promise<number>;
  /** Promotes that primary's replica (CLUSTER FAILOVER); resolves once every node agrees and the cluster is ok. */
  failover(port: number): Promise<void>;
  /** Reshards the slot, keys included, to the primary on toPort; resolves once every node agrees. */
  moveSlot(slot: number, toPort: number): Promise<void>;
  /** FLUSHALL on every primary (replicas follow). */
  flushAll(): Promise<void>;
  /**
   * EVALSHA calls the nodes refused before running them (MOVED, ASK, TRYAGAIN, CLUSTERDOWN: a client sends
   * them again), all nodes together since start: how much script traffic a fault caught.
   */
  rejectedScriptCalls(): Promise<number>;
  stop(): Promise<void>;
}

const PRIMARIES = 3;
const NODES = PRIMARIES * 2;
/** The cluster bus listens on port + 10000, which must be free too. */
const BUS_OFFSET = 10_000;
const SETTLE_TIMEOUT_MS = 30_000;

interface NodeView {
  id: string;
  port: number;
  primary: boolean;
  /** The primary's id, for a replica. */
  primaryId: string | null;
  slots: Array<[number, number]>;
}

export async function startRedisCluster(): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cluster-'));
  const servers: LaunchedRedis[] = [];
  const ports: number[] = [];
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop('SIGTERM')));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < NODES; i++) {
      const [port, server] = await launchNode(dir, ports);
      ports.push(port);
      servers.push(server);
    }
    await create(ports);
    await waitFor(() => settled(ports), 'the new cluster to settle');
  } catch (err) {
    await stop();
    throw err;
  }
  const nodes = (await view(ports)).filter((node) => node.primary).map((node) => `redis://127.0.0.1:${node.port}`);
  return {
    nodes,
    ports,
    primaryFor: async (key) => ownerOf(await view(ports), calculateSlot(key)).port,
    failover: (port) => failover(ports, port),
    moveSlot: (slot, toPort) => moveSlot(ports, slot, toPort),
    flushAll: async () => {
      const primaries = (await view(ports)).filter((node) => node.primary);
      await Promise.all(primaries.map((node) => command(node.port, 'FLUSHALL')));
    },
    rejectedScriptCalls: () => rejectedScriptCalls(ports),
    stop,
  };
}

/** Starts one cluster node on a port whose bus port is free too, trying other ports if one was taken meanwhile. */
async function launchNode(dir: string, taken: number[]): Promise<[number, LaunchedRedis]> {
  for (let attempt = 1; ; attempt++) {
    const port = await clusterPort(taken);
    const args = [
      '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${port}.conf`,
      '--cluster-node-timeout', '1000',
      // The tests choose the topology: no replica wanders off to another primary.
      '--cluster-allow-replica-migration', 'no',
      '--dir', dir,
    ];
    try {
      return [port, await launchRedis(port, args)];
    } catch (err) {
      if (attempt === 5) throw err;
    }
  }
}

async function clusterPort(taken: number[]): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 30_000);
    if (taken.some((other) => Math.abs(other - port) < 2 || Math.abs(other + BUS_OFFSET - port) < 2)) continue;
    if ((await isFree(port)) && (await isFree(port + BUS_OFFSET))) return port;
  }
}

async function create(ports: number[]): Promise<void> {
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  const cli = spawn('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  cli.stdout.on('data', (chunk) => (output += chunk));
  cli.stderr.on('data', (chunk) => (output += chunk));
  const [code] = await once(cli, 'exit');
  if (code !== 0) throw new Error(`redis-cli --cluster create exited with ${code}:\n${output}`);
}

async function failover(ports: number[], port: number): Promise<void> {
  const nodes = await view(ports);
  const primary = nodes.find((node) => node.port === port && node.primary);
  if (!primary) throw new Error(`port ${port} is not a primary`);
  const replica = nodes.find((node) => node.primaryId === primary.id);
  if (!replica) throw new Error(`the primary on port ${port} has no replica`);
  await command(replica.port, 'CLUSTER', 'FAILOVER');
  await waitFor(async () => {
    const promoted = (seen: NodeView[]) => isPrimary(seen, replica.id) && !isPrimary(seen, primary.id);
    if (!(await everyNodeSees(ports, promoted))) return false;
    return settled(ports);
  }, `the replica on port ${replica.port} to take over from ${port}`);
}

async function moveSlot(ports: number[], slot: number, toPort: number): Promise<void> {
  const nodes = await view(ports);
  const source = ownerOf(nodes, slot);
  const target = nodes.find((node) => node.port === toPort && node.primary);
  if (!target) throw new Error(`port ${toPort} is not a primary`);
  if (source.id === target.id) return;
  await command(target.port, 'CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', source.id);
  await command(source.port, 'CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id);
  for (;;) {
    const keys = (await command(source.port, 'CLUSTER', 'GETKEYSINSLOT', String(slot), '100')) as string[];
    if (keys.length === 0) break;
    await command(source.port, 'MIGRATE', '127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', ...keys);
  }
  // The order the Redis manual gives: the target first, so it never points back at the source.
  const others = nodes.filter((node) => node.primary && node.id !== source.id && node.id !== target.id);
  for (const node of [target, source, ...others]) {
    await command(node.port, 'CLUSTER', 'SETSLOT', String(slot), 'NODE', target.id);
  }
  await waitFor(async () => {
    if (!(await everyNodeSees(ports, (seen) => ownerOf(seen, slot).id === target.id))) return false;
    return settled(ports);
  }, `slot ${slot} to move to port ${toPort}`);
}

async function rejectedScriptCalls(ports: number[]): Promise<number> {
  let rejected = 0;
  for (const port of ports) {
    const stats = String(await command(port, 'INFO', 'commandstats'));
    for (const [, count] of stats.matchAll(/cmdstat_evalsha:.*rejected_calls=(\d+)/g)) rejected += Number(count);
  }
  return rejected;
}

/** Every node reports cluster_state:ok with all slots, sees three primaries, and every replica is in sync. */
async function settled(ports: number[]): Promise<boolean> {
  for (const port of ports) {
    const info = String(await command(port, 'CLUSTER', 'INFO'));
    if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) return false;
    const nodes = await nodesSeenBy(port);
    if (nodes.filter((node) => node.primary).length !== PRIMARIES) return false;
    const me = nodes.find((node) => node.port === port);
    if (me?.primary === false) {
      const replication = String(await command(port, 'INFO', 'replication'));
      if (!replication.includes('master_link_status:up')) return false;
    }
  }
  return true;
}

async function everyNodeSees(ports: number[], check: (nodes: NodeView[]) => boolean): Promise<boolean> {
  for (const port of ports) if (!check(await nodesSeenBy(port))) return false;
  return true;
}

/** Whether the node with that id is a primary in this view. */
function isPrimary(nodes: NodeView[], id: string): boolean {
  return nodes.find((node) => node.id === id)?.primary === true;
}

function ownerOf(nodes: NodeView[], slot: number): NodeView {
  const owner = nodes.find((node) => node.primary && node.slots.some(([from, to]) => slot >= from && slot <= to));
  if (!owner) throw new Error(`no primary serves slot ${slot}`);
  return owner;
}

/** The topology as the first node that answers sees it. */
async function view(ports: number[]): Promise<NodeView[]> {
  let lastError: unknown;
  for (const port of ports) {
    try {
      return await nodesSeenBy(port);
    } catch (err) {
      lastError = err;
    }
  }
  throw lastError;
}

/** CLUSTER NODES parsed: `<id> <ip:port@bus> <flags> <primary id|-> <ping> <pong> <epoch> <link> <slots…>`. */
async function nodesSeenBy(port: number): Promise<NodeView[]> {
  const text = String(await command(port, 'CLUSTER', 'NODES'));
  return text.trim().split('\n').map((line) => {
    const [id, address, flags, primaryId, , , , , ...slots] = line.split(' ');
    return {
      id: id!,
      port: Number(/:(\d+)@/.exec(address!)?.[1]),
      primary: flags!.split(',').includes('master'),
      primaryId: primaryId === '-' ? null : primaryId!,
      slots: slots.filter((range) => !range.startsWith('[')).map((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return [from!, to!] as [number, number];
      }),
    };
  });
}

/** One command on a short-lived connection: nothing of the harness keeps the event loop alive between calls. */
async function command(port: number, name: string, ...args: string[]): Promise<unknown> {
  const options = { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null };
  const client = new Redis(port, '127.0.0.1', options);
  client.on('error', () => {}); // the call's own rejection reports it
  try {
    await client.connect();
    return await client.call(name, ...args);
  } finally {
    client.disconnect();
  }
}

async function waitFor(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + SETTLE_TIMEOUT_MS;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await condition()) return;
    } catch (err) {
      lastError = err; // a node busy failing over may refuse a connection for a moment
    }
    await sleep(50);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${SETTLE_TIMEOUT_MS} ms waiting for ${what}${cause}`);
}

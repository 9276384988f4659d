/**
 * The Redis connection every store takes: a single server (`redis.url`) or a cluster (`redis.cluster`).
 * Both ioredis classes share the surface the stores use (defineCommand, pipeline, multi, eval*, events);
 * what differs is that on a cluster every script and multi-key command must keep its keys in one slot.
 */
import type { Cluster, Redis } from 'ioredis';

export type RedisClient = Redis | Cluster;

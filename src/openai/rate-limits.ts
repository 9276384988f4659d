/**
 * OpenAI's usage tiers limit requests and tokens, per minute and per day; a refusal tells which limit,
 * how far over and for how long: what a 429's message and its retry headers say
 * (docs/wire.md §7.4, §8; docs/contract.md §6).
 */

export type Dimension = 'rpm' | 'rpd' | 'tpm' | 'tpd';

export interface Denial {
  dimension: Dimension;
  limit: number;
  used: number;
  requested: number;
  /** ms until the blocking bucket has room for the cost; 0 when `tooLarge`. */
  retryAfterMs: number;
  /** cost > limit: the request can never succeed, however long the client waits. */
  tooLarge: boolean;
}

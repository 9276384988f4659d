/** The counters of a usage row with nothing counted yet: a fresh object, so callers can add to it. */
export function zeroUsageCounters() {
  return {
    requests: 0,
    promptTokens: 0,
    cachedTokens: 0,
    completionTokens: 0,
    reasoningTokens: 0,
    costUsd: 0,
    estimatedRequests: 0,
  };
}

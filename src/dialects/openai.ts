/**
 * OpenAI-native providers (OpenAI, AI/ML API and any other server of the same API): the client's own
 * bytes go upstream with only the model id replaced, and answers come back as they are. Chat streams
 * always ask the upstream for its usage chunk (the gateway counts from it); a client that did not ask
 * for it does not get it (docs/wire.md §4.3).
 */
import { setJsonMembers } from '../openai/json-members.js';
import { SseTap } from '../openai/sse-tap.js';
import { normaliseUsage } from '../openai/usage.js';
import type { ClientRequest, Dialect } from './dialect.js';
import { isJsonObject } from '../openai/json-object.js';

export const openaiDialect: Dialect = {
  /**
   * `include_usage: true` goes only into streamed chat bodies: the spec gives it meaning only with
   * `stream: true`, and Responses has no such option (docs/wire.md §2.2, §2.3; docs/contract.md §3.2).
   */
  upstreamBody({ endpoint, body, json, members }, model) {
    const replaced: Record<string, string> = { model: JSON.stringify(model) };
    if (endpoint === 'chat' && body.stream === true) {
      replaced.stream_options = JSON.stringify({ ...body.stream_options, include_usage: true });
    }
    return { body: setJsonMembers(json, replaced, members) };
  },

  clientAnswer(_request, body, json) {
    return { body, usage: isJsonObject(json) ? normaliseUsage(json.usage) : undefined };
  },

  clientStream(request) {
    return new SseTap({ endpoint: request.endpoint, stripUsageChunk: stripsUsageChunk(request) });
  },
};

/**
 * The gateway asked for the usage chunk on the client's behalf: the client gets it only if it asked too
 * (docs/wire.md §4.3; docs/contract.md §7.1).
 */
function stripsUsageChunk({ endpoint, body }: ClientRequest): boolean {
  return endpoint === 'chat' && body.stream === true && body.stream_options?.include_usage !== true;
}

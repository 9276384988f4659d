/**
 * OpenAI-native providers (OpenAI, AI/ML API and any other server of the same API): the client's own
 * bytes go upstream with only the model id replaced, and answers come back as they are. Chat streams
 * always ask the upstream for its usage chunk (the gateway counts from it); a client that did not ask
 * for it does not get it (docs/wire.md §4.3). A Responses request whose chain tollgate resolved
 * (`history`) goes with the chain's items before its own input, and `previous_response_id: null`: the
 * provider must not look for a response it never stored (setting the member keeps every other byte).
 */
import { isJsonObject } from '../openai/json-object.js';
import { setJsonMembers } from '../openai/json-members.js';
import { SseTap } from '../openai/sse-tap.js';
import { normaliseUsage } from '../openai/usage.js';
import { isResponseObject } from '../openai/response-object.js';
import { inputAsItems } from '../responses/items.js';
import type { ClientRequest, Dialect } from './dialect.js';

export const openaiDialect: Dialect = {
  /**
   * `include_usage: true` goes only into streamed chat bodies: the spec gives it meaning only with
   * `stream: true`, and Responses has no such option (docs/wire.md §2.2, §2.3; docs/contract.md §3.2).
   */
  upstreamBody({ endpoint, body, json, members, history }, model) {
    const replaced: Record<string, string> = { model: JSON.stringify(model) };
    if (endpoint === 'chat' && body.stream === true) {
      replaced.stream_options = JSON.stringify({ ...body.stream_options, include_usage: true });
    }
    if (endpoint === 'responses' && history) {
      replaced.input = JSON.stringify([...history, ...inputAsItems(body.input)]);
      replaced.previous_response_id = 'null';
    }
    return { body: setJsonMembers(json, replaced, members) };
  },

  clientAnswer(request, body, json) {
    const usage = isJsonObject(json) ? normaliseUsage(json.usage) : undefined;
    const response = request.endpoint === 'responses' && isResponseObject(json) ? json : undefined;
    return { body, usage, response };
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

/**
 * A Responses request's `previous_response_id`, resolved once per exchange (docs/contract.md §5.6). A
 * native id goes first to the provider that holds it, unchanged; every other route (a bridged one, a
 * native one at another provider) gets the conversation rebuilt from
 * the records instead of the id, so a chain survives fallback. A bridged id is always rebuilt.
 */
import type { ClientRequest } from '../dialects/dialect.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import type { UpstreamRoute } from '../upstream/routing.js';
import { ResponseHistory, type HistoryItem } from './history.js';
import type { ResponseStore, StoredResponse } from './stored-response.js';

export class PreviousResponse {
  #history: Promise<HistoryItem[]> | undefined;

  private constructor(
    private readonly chain: ResponseHistory,
    private readonly record: StoredResponse,
  ) {}

  /** undefined when the request chains onto nothing; OpenAI's 400 when the id is unknown to this key. */
  static async of(
    request: ClientRequest,
    principal: ApiKeyRecord,
    store: ResponseStore,
  ): Promise<PreviousResponse | undefined> {
    const id = request.body.previous_response_id;
    if (request.endpoint !== 'responses' || typeof id !== 'string') return undefined;
    const chain = new ResponseHistory(store);
    return new PreviousResponse(chain, await chain.head(id, principal));
  }

  /** The holder's own route first; the rest keep their configured order. */
  order(routes: UpstreamRoute[]): UpstreamRoute[] {
    const holder = routes.filter((route) => this.holds(route));
    return holder.length === 0 ? routes : [...holder, ...routes.filter((route) => !this.holds(route))];
  }

  /** The holder's route is sent the id; every other route the conversation. */
  async requestFor(route: UpstreamRoute, request: ClientRequest): Promise<ClientRequest> {
    if (this.holds(route)) return request;
    this.#history ??= this.chain.items(this.record);
    return { ...request, history: await this.#history };
  }

  private holds(route: UpstreamRoute): boolean {
    const { holder } = this.record;
    return holder.kind === 'native' && !route.bridged && holder.provider === route.providerName;
  }
}

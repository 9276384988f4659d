/**
 * The Responses sub-resources (issue 14 items 5 and 7): GET and DELETE /v1/responses/:id, GET its
 * input_items, POST its cancel, and POST /v1/responses/input_tokens. A native record's calls go to the
 * provider that holds the response (src/upstream/stored-response-call.ts) and its answer is relayed; a
 * bridged record is answered from the record itself.
 *
 * Only the key that created a record sees it: for any other key it does not exist (the same 404 as an
 * unknown id). Each call on a record counts as one request, and no tokens, against the key's limits for the
 * record's model alias (input_tokens: the body's model), with the key's x-ratelimit-* headers on the
 * answer; an unknown id is refused before it is counted (there is no alias to count it on). Nothing here
 * knows Fastify: routes/responses-resources.ts adapts it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Config } from '../config.js';
import {
  GatewayError, modelNotFound, responseHolderGone, responseNotCancellable, responseNotFound, responseNotResumable,
} from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import { REQUEST_ONLY, type AdmissionControl } from '../limits/admission.js';
import type { JsonMember } from '../openai/json-scan.js';
import { checkBody } from '../openai/request-body.js';
import type { ClientGone } from '../upstream/client-gone.js';
import type { UpstreamServices } from '../upstream/forward.js';
import { callStoredResponse, type StoredResponseAction } from '../upstream/stored-response-call.js';
import { ResponseHistory, type HistoryItem } from './history.js';
import { countInputTokens } from './input-tokens.js';
import { itemPage, listPage } from './item-list.js';
import type { ResponseStore, StoredResponse } from './stored-response.js';

/** What every call uses, shared by all of them. */
export interface ResourceServices {
  store: ResponseStore;
  admission: Pick<AdmissionControl, 'admitKey'>;
  upstream: Pick<UpstreamServices, 'pools' | 'providerKeys'>;
  providers: Config['providers'];
  models: Config['models'];
}

/** The client's side of one call, seen without Fastify. */
export interface ResourceClient {
  principal: ApiKeyRecord;
  headers: IncomingHttpHeaders;
  /** The query string without its `?` (forwarded as it came), and as parsed. */
  rawQuery: string;
  query: Record<string, unknown>;
  /** Aborted when the client goes away. */
  signal: ClientGone;
  /** Headers for whatever answer the client gets, an error included (the key's x-ratelimit-*). */
  setHeaders(headers: Record<string, string>): void;
  /** The model alias the call was counted on, once known (a metrics label). */
  countedOn(alias: string): void;
}

/** An answer of the gateway's own (sent as JSON), or a provider's relayed as it arrives. */
export type ResourceAnswer =
  { kind: 'json'; status: number; body: unknown } |
  { kind: 'relayed'; status: number; headers: Record<string, string | string[]>; body: Readable };

type NativeHolder = Extract<StoredResponse['holder'], { kind: 'native' }>;

const json = (body: unknown): ResourceAnswer => ({ kind: 'json', status: 200, body });

export class ResponseResources {
  constructor(private readonly services: ResourceServices) {}

  async retrieve(client: ResourceClient, id: string): Promise<ResourceAnswer> {
    const record = await this.open(client, id);
    if (record.holder.kind === 'native') return this.forward(client, id, record.holder, 'retrieve');
    // The bridge keeps the final response, not the event sequence that built it.
    if (String(client.query.stream).toLowerCase() === 'true') throw responseNotResumable();
    return json(record.holder.response);
  }

  /** A native record is forgotten once its provider has deleted the response, or no longer knows it. */
  async delete(client: ResourceClient, id: string): Promise<ResourceAnswer> {
    const record = await this.open(client, id);
    const { store } = this.services;
    if (record.holder.kind === 'bridged') {
      if (!(await store.delete(id))) throw responseNotFound(id); // deleted meanwhile by a concurrent call
      return json({ id, object: 'response', deleted: true });
    }
    try {
      const answer = await this.forward(client, id, record.holder, 'delete');
      await store.delete(id);
      return answer;
    } catch (err) {
      if (err instanceof GatewayError && err.status === 404) await store.delete(id);
      throw err;
    }
  }

  async inputItems(client: ResourceClient, id: string): Promise<ResourceAnswer> {
    const record = await this.open(client, id);
    if (record.holder.kind === 'native') return this.forward(client, id, record.holder, 'input_items');
    return json(itemPage(record.input, listPage(client.query)));
  }

  async cancel(client: ResourceClient, id: string): Promise<ResourceAnswer> {
    const record = await this.open(client, id);
    if (record.holder.kind === 'native') return this.forward(client, id, record.holder, 'cancel');
    throw responseNotCancellable(); // the bridge refuses background: true, so a bridged response never is one
  }

  /** `body` and `members` as the JSON parser left them (plugins/body.ts). */
  async inputTokens(client: ResourceClient, body: unknown, members: JsonMember[] | null): Promise<ResourceAnswer> {
    const checked = checkBody('responses', body, members);
    const alias = checked.model;
    const { principal } = client;
    // As the proxy answers: unknown aliases and aliases this key may not use look the same.
    const permitted = !principal.models || principal.models.includes(alias);
    if (!permitted || !Object.hasOwn(this.services.models, alias)) throw modelNotFound(alias);
    const history = await this.history(client, checked.previous_response_id);
    await this.count(client, alias);
    return json({ object: 'response.input_tokens', input_tokens: countInputTokens(checked, history) });
  }

  /** The conversation a `previous_response_id` stands for, as the upstream would receive it (docs/contract.md §5.6). */
  private async history(client: ResourceClient, previousId: unknown): Promise<HistoryItem[]> {
    if (typeof previousId !== 'string') return [];
    const chain = new ResponseHistory(this.services.store);
    return chain.items(await chain.head(previousId, client.principal));
  }

  /** The key's own record, counted as one request; a missing or foreign one is the same 404. */
  private async open(client: ResourceClient, id: string): Promise<StoredResponse> {
    const record = await this.services.store.get(id);
    if (!record || record.keyId !== client.principal.id) throw responseNotFound(id);
    await this.count(client, record.model);
    return record;
  }

  /** One request against the key's limits for the alias; nothing is left to settle (no tokens were reserved). */
  private async count(client: ResourceClient, alias: string): Promise<void> {
    client.countedOn(alias);
    const reservation = await this.services.admission.admitKey(client.principal, alias, REQUEST_ONLY);
    client.setHeaders(reservation.headers);
    reservation.settle(0);
  }

  private async forward(
    client: ResourceClient,
    id: string,
    holder: NativeHolder,
    action: StoredResponseAction,
  ): Promise<ResourceAnswer> {
    const providerName = holder.provider;
    const provider = this.services.providers[providerName];
    if (!provider) throw responseHolderGone(id, providerName);
    const call = {
      action,
      id,
      providerName,
      provider,
      query: client.rawQuery,
      clientHeaders: client.headers,
      signal: client.signal,
    };
    return { kind: 'relayed', ...(await callStoredResponse(this.services.upstream, call)) };
  }
}

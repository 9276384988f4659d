/**
 * The record of a served response (docs/contract.md §5.6): for a native one, which provider holds it;
 * for a bridged one, the whole Response object the bridge built. Both keep the request's own input and
 * the response's output items, so a conversation can be rebuilt on any route.
 */
import type { ClientRequest } from '../dialects/dialect.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import { outputItems, recordedInputItems } from './items.js';
import type { ResponseObject, StoredResponse } from './stored-response.js';

export interface ServedResponse {
  request: ClientRequest;
  principal: ApiKeyRecord;
  response: ResponseObject;
  /** The provider that answered; a bridged response is held by tollgate, whichever provider wrote it. */
  provider: string;
  bridged: boolean;
}

/** Responses are kept unless the client asked otherwise (`store` defaults to true, docs/wire.md §2.3). */
export function isStored(request: ClientRequest): boolean {
  return request.endpoint === 'responses' && request.body.store !== false;
}

export function responseRecord({ request, principal, response, provider, bridged }: ServedResponse): StoredResponse {
  const previous = request.body.previous_response_id;
  const createdAt = response.created_at;
  return {
    id: response.id,
    keyId: principal.id,
    model: request.body.model,
    createdAt: typeof createdAt === 'number' ? createdAt : Math.floor(Date.now() / 1000),
    ...(typeof previous === 'string' && { previousResponseId: previous }),
    holder: bridged ? { kind: 'bridged', response } : { kind: 'native', provider },
    input: recordedInputItems(request.body.input),
    output: outputItems(response.output),
  };
}

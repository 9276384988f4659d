/**
 * The stored-response records (issue 14): every response tollgate serves, unless the client sent
 * `store: false`, gets one, so its sub-resources (retrieve, delete, input items, cancel) can be served and
 * a `previous_response_id` chain can be rebuilt on another route. A record either names the provider that
 * holds the response (native) or carries the whole response (bridged over Chat Completions). Only the key
 * that created a record may read or delete it; records expire `responses.retentionDays` after they are
 * written. Two implementations share one behaviour: memory-response-store.ts and redis-response-store.ts.
 */

/** A Responses API item as JSON (message, function_call, function_call_output, …), always with an `id`. */
export type ResponseItem = Record<string, unknown> & { id: string; type: string };
/** A Response object as JSON (`object: 'response'`). */
export type ResponseObject = Record<string, unknown> & { id: string };

export interface StoredResponse {
  /** resp_…: the provider's id (native) or tollgate's (bridged). */
  id: string;
  /** ApiKeyRecord.id of the key that created it; only it may read or delete it. */
  keyId: string;
  /** The model alias the client asked for (limits count sub-resource calls on it). */
  model: string;
  /** Unix seconds. */
  createdAt: number;
  /** The record this one chained onto (history is walked record by record). */
  previousResponseId?: string;
  /** Who can answer for the response: the provider that holds it, or the record itself. */
  holder: { kind: 'native'; provider: string } | { kind: 'bridged'; response: ResponseObject };
  /** This request's own input items (instructions excluded), with ids. */
  input: ResponseItem[];
  /** The response's output items. */
  output: ResponseItem[];
}

export interface ResponseStore {
  /** Keeps the record for `responses.retentionDays`. Resolves once it is durable (Redis acknowledged). */
  put(record: StoredResponse): Promise<void>;
  get(id: string): Promise<StoredResponse | undefined>;
  /** true when a record was removed. */
  delete(id: string): Promise<boolean>;
  close(): Promise<void>;
}

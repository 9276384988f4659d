/** A Responses API item as JSON (message, function_call, function_call_output, …), always with an `id`. */
export type ResponseItem = Record<string, unknown> & { id: string; type: string };
/** A Response object as JSON (`object: 'response'`). */
export type ResponseObject = Record<string, unknown> & { id: string };

export interface StoredResponse {
  id: string;                    // resp_…: the provider's id (native) or tollgate's (bridged)
  keyId: string;                 // ApiKeyRecord.id of the key that created it; only it may read/delete
  model: string;                 // the model alias the client asked for (limits count sub-resource calls on it)
  createdAt: number;             // unix seconds
  previousResponseId?: string;   // the record this one chained onto (history is walked record by record)
  holder: { kind: 'native'; provider: string } | { kind: 'bridged'; response: ResponseObject };
  input: ResponseItem[];         // this request's own input items (instructions excluded), with ids
  output: ResponseItem[];        // the response's output items
}

export interface ResponseStore {
  /** Keeps the record for `responses.retentionDays`. Resolves once it is durable (Redis acknowledged). */
  put(record: StoredResponse): Promise<void>;
  get(id: string): Promise<StoredResponse | undefined>;
  /** true when a record was removed. */
  delete(id: string): Promise<boolean>;
  close(): Promise<void>;
}

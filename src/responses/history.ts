/**
 * `previous_response_id` (docs/contract.md §5.6): the record a request chains onto, and the conversation
 * it stands for when the route cannot resolve the id itself (a bridged response, or a native one whose
 * holder failed or had no room). The conversation is each record's input then output items, oldest
 * first, walked back record by record: a record keeps only its own turn, so storage grows with the
 * conversation, not with its square.
 */
import { previousResponseNotFound } from '../errors.js';
import type { ApiKeyRecord } from '../keys/api-key.js';
import type { ResponseItem, ResponseStore, StoredResponse } from './stored-response.js';

/** An item as it is sent upstream again: without the id another provider would not know. */
export type HistoryItem = Omit<ResponseItem, 'id'>;

/** A chain longer than this is cut at its oldest end (a loop of ids, which the store should never hold, included). */
const MAX_CHAIN_RECORDS = 10_000;

export class ResponseHistory {
  constructor(private readonly store: ResponseStore) {}

  /** The record `id` names, if `principal` created it; OpenAI's 400 otherwise (a foreign id looks unknown). */
  async head(id: string, principal: ApiKeyRecord): Promise<StoredResponse> {
    const record = await this.store.get(id);
    if (!record || record.keyId !== principal.id) throw previousResponseNotFound(id);
    return record;
  }

  /**
   * The conversation up to and including `head`. Reasoning items are dropped: they are the holder's own
   * opaque state, which no other provider can read. A record gone from the middle of the chain (its
   * retention ended) ends the walk there.
   */
  async items(head: StoredResponse): Promise<HistoryItem[]> {
    const turns: ResponseItem[][] = [];
    const seen = new Set<string>();
    let record: StoredResponse | undefined = head;
    while (record && !seen.has(record.id)) {
      seen.add(record.id);
      turns.push([...record.input, ...record.output]);
      if (!record.previousResponseId || seen.size >= MAX_CHAIN_RECORDS) break;
      record = await this.store.get(record.previousResponseId);
    }
    return turns
      .reverse()
      .flat()
      .filter((item) => item.type !== 'reasoning')
      .map(({ id: _id, ...item }) => item);
  }
}

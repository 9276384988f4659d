/** A Responses request as the gateway hands it to a dialect, for the bridge's unit tests. */
import type { ClientRequest } from '../../../src/dialects/dialect.js';
import { topLevelMembers } from '../../../src/openai/json-scan.js';
import { checkBody } from '../../../src/openai/request-body.js';
import type { ResponseItem } from '../../../src/responses/stored-response.js';

export function responsesRequest(body: object, history?: ResponseItem[]): ClientRequest {
  const json = Buffer.from(JSON.stringify(body));
  const members = topLevelMembers(json, 128)!.members;
  return { endpoint: 'responses', body: checkBody('responses', body, members), json, members, history };
}

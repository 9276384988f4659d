import type { ResponseObject } from '../responses/stored-response.js';
import { isJsonObject } from './json-object.js';

/** A parsed value that is a Response object (`object: 'response'` with an id), as answers and terminal events carry. */
export function isResponseObject(value: unknown): value is ResponseObject {
  return isJsonObject(value) && value.object === 'response' && typeof value.id === 'string';
}

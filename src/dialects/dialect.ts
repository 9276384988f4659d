/**
 * A dialect is how tollgate speaks to one kind of provider: it turns the client's request into the
 * body the route's upstream expects, and the upstream's answer into what the client receives. Each
 * route carries its provider's dialect (upstream/routing.ts) and the exchange (src/exchange.ts) asks
 * it for both, so a fallback from one kind of provider to another changes the body and the answer.
 */
import type { Transform } from 'node:stream';
import type { GatewayError } from '../errors.js';
import type { Endpoint } from '../openai/endpoint.js';
import type { JsonMember } from '../openai/json-scan.js';
import type { ProxyBody } from '../openai/request-body.js';
import type { KeepResponse, StreamedText } from '../openai/sse-tap.js';
import type { Usage } from '../openai/usage.js';
import type { HistoryItem } from '../responses/history.js';
import type { ResponseObject } from '../responses/stored-response.js';

/** The client's request as the gateway checked it: the members it reads, and the bytes it came in. */
export interface ClientRequest {
  endpoint: Endpoint;
  body: ProxyBody;
  /** The body exactly as received. */
  json: Buffer;
  /** Its top-level members, where they sit in `json`. */
  members: JsonMember[];
  /**
   * Responses only: the items of the chain `previous_response_id` names, oldest first (ids stripped,
   * reasoning dropped), when this route cannot resolve it itself. The dialect sends them before the
   * request's own `input`, and does not send `previous_response_id` upstream.
   */
  history?: HistoryItem[];
}

/**
 * The request as a committed answer still needs it: the endpoint and every parameter (a bridged
 * Responses stream echoes them in its response objects), without the prompt (`messages`, `input`,
 * the chain's history) or its bytes. An open stream holds its request until the last event, and a
 * prompt costs about twice its size in heap as parsed strings: 2,000 streams of 40 KB prompts would
 * otherwise hold some 200 MB.
 */
export function withoutPrompt({ endpoint, body }: ClientRequest): ClientRequest {
  const parameters: ProxyBody = { ...body };
  delete parameters.messages;
  delete parameters.input;
  return { endpoint, body: parameters, json: NO_BYTES, members: [] };
}

const NO_BYTES = Buffer.alloc(0);

/** A streamed answer on its way to the client, and what it told about usage as it passed. */
export interface StreamTap extends Transform {
  readonly usage: Usage | undefined;
  /** The stream reached its natural end (chat's [DONE], a terminal Responses event). */
  readonly completed: boolean;
  /** Completion text the client received, to estimate usage when the stream was cut. */
  streamedText(): StreamedText;
  /** Ends the client's stream after the upstream's broke off. */
  endWithError(): void;
  /**
   * Responses streams: `keep(finalResponse)` is called when the terminal event
   * (`response.completed|incomplete|failed`) arrives, and that event (and what follows) reaches the
   * client once the promise settled, resolved or rejected. Without a call the tap never waits.
   */
  holdTerminalEvent(keep: KeepResponse): void;
  /** The terminal event's response, once it passed (Responses streams only). */
  readonly response: ResponseObject | undefined;
}

/** The client's answer of a whole JSON answer; `response`: the final Response object (Responses only). */
export interface ClientAnswer {
  body: Buffer;
  usage: Usage | undefined;
  response?: ResponseObject;
}

/** The body for the route, or why this provider cannot be asked this request (a later route may be). */
export type UpstreamBody = { body: Buffer; refusal?: undefined } | { body?: undefined; refusal: GatewayError };

export interface Dialect {
  /** The upstream body for one route of the request; `model` is the provider's id for the model. */
  upstreamBody(request: ClientRequest, model: string): UpstreamBody;
  /** The client's answer of a whole JSON answer, and its usage. */
  clientAnswer(request: ClientRequest, body: Buffer, json: unknown): ClientAnswer;
  /** The transform an upstream stream passes through to the client, tapping its usage. */
  clientStream(request: ClientRequest): StreamTap;
}

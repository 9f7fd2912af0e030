// Public types of the api-server cell: other cells contribute routes with
// `provideInto(IApiRoutes, { deps, factory: (...) => [route(...), ...] })`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { groupToken, token } from '../../pkg/hive/index.js';

/** HTTP methods the API uses. */
export type Method = 'GET' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';

/**
 * A parsed request. `body` is parsed JSON when the content type is JSON (or absent and the text is JSON),
 * else the raw text; it is parsed on first access, which throws a 400 error for invalid JSON.
 */
export interface ApiRequest {
  readonly method: Method;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  readonly rawBody: string;
  readonly contentType: string;
  /** Aborted when the client goes away. */
  readonly signal: AbortSignal;
  readonly raw: IncomingMessage;
}

/** A streamed response (newline-delimited JSON, e.g. monitor events): write until `signal` aborts. */
export interface ApiStream {
  readonly stream: (res: ServerResponse, signal: AbortSignal) => Promise<void>;
}

/** What a handler returns: a JSON body (status 200), `{ status, body }`, or a stream. */
export type ApiResult = unknown;

/** One route: `path` may hold `{name}` parameters, e.g. `/v1/endpoint/{id}`. */
export interface ApiRoute {
  readonly method: Method;
  readonly path: string;
  /** One line for the route listing. */
  readonly doc: string;
  readonly handler: (req: ApiRequest) => ApiResult; // a value, or a Promise of one
}

/** Routes contributed by cells; the api-server serves every contribution. */
export const IApiRoutes = groupToken<readonly ApiRoute[]>('ApiRoutes');

/** A response with an explicit status code. */
export interface ApiResponse {
  readonly status: number;
  readonly body?: unknown;
}

/** Builds a route (for readability at the call site). */
export function route(method: Method, path: string, doc: string, handler: ApiRoute['handler']): ApiRoute {
  return { method, path, doc, handler };
}

/** Marks a handler's result as `{status, body}`. */
export function respond(status: number, body?: unknown): ApiResponse & { readonly __response: true } {
  return { status, body, __response: true };
}

/** Configuration of the API server. */
export interface ApiServerConfig {
  readonly apiSocket: string;
}
export const IApiServerConfig = token<Readonly<ApiServerConfig>>('ApiServerConfig');

/** The running server (for tests: the socket it listens on). */
export interface ApiServerHandle {
  readonly socketPath: string;
  routes(): readonly ApiRoute[];
}
export const IApiServer = token<ApiServerHandle>('ApiServer');

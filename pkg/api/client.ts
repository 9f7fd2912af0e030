// HTTP client of the agent's REST API on its unix socket; used by the CLI and the CNI plugin.

import http from 'node:http';
import type { ApiErrorBody } from './types.js';

/** The agent answered with an error status; `field` names the part of the request at fault, if known. */
export class ApiClientError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ApiClientError';
  }
}

/** The agent could not be reached at all. */
export class AgentUnreachableError extends Error {
  constructor(socket: string, cause: NodeJS.ErrnoException) {
    super(`cannot reach the agent at ${socket}: ${cause.code ?? cause.message} (is cilia-agent running? set --socket or CILIA_SOCKET)`);
    this.name = 'AgentUnreachableError';
  }
}

/** Default API socket, as the agent's --api-socket default. */
export const DEFAULT_SOCKET = '/var/run/cilia/cilia.sock';

/** A small JSON client bound to one socket. */
export class ApiClient {
  constructor(
    readonly socketPath: string = DEFAULT_SOCKET,
    private readonly timeoutMs = 120_000,
  ) {}

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  patch<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('PATCH', path, body);
  }
  delete<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, body);
  }

  /** Sends a request; resolves with the parsed JSON body (undefined for 204), rejects with ApiClientError. */
  request<T>(method: string, path: string, body?: unknown, rawBody?: string | Buffer, contentType = 'application/json'): Promise<T> {
    const payload = rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
    return new Promise<T>((resolve, reject) => {
      const req = http.request(
        {
          socketPath: this.socketPath,
          path,
          method,
          headers: payload === undefined ? {} : { 'content-type': contentType, 'content-length': Buffer.byteLength(payload) },
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              parsed = text;
            }
            const status = res.statusCode ?? 0;
            if (status >= 400) {
              const e = parsed as ApiErrorBody | undefined;
              reject(new ApiClientError(status, typeof e === 'object' && e?.error ? e.error : `HTTP ${status}: ${text}`, typeof e === 'object' ? e?.field : undefined));
            } else {
              resolve(parsed as T);
            }
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`request ${method} ${path} timed out after ${this.timeoutMs} ms`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED' || err.code === 'EACCES') reject(new AgentUnreachableError(this.socketPath, err));
        else reject(err);
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  /**
   * Streams newline-delimited JSON from `path`, calling `onItem` for each line, until the server ends
   * the response or `signal` aborts.
   */
  stream<T>(path: string, onItem: (item: T) => void, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const req = http.request({ socketPath: this.socketPath, path, method: 'GET' }, (res) => {
        if ((res.statusCode ?? 0) >= 400) {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => {
            let msg = text;
            try {
              msg = (JSON.parse(text) as ApiErrorBody).error;
            } catch {
              /* plain text */
            }
            reject(new ApiClientError(res.statusCode ?? 0, msg));
          });
          return;
        }
        let buf = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          buf += chunk;
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim()) onItem(JSON.parse(line) as T);
          }
        });
        res.on('end', () => resolve());
        res.on('error', reject);
      });
      signal?.addEventListener('abort', () => {
        req.destroy();
        resolve();
      }, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (signal?.aborted) return resolve();
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new AgentUnreachableError(this.socketPath, err));
        else reject(err);
      });
      req.end();
    });
  }
}

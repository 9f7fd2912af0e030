// The agent's REST API server: HTTP on a unix socket (mode 0600, its directory created if missing),
// routes contributed by cells, JSON in and out, errors as `{error, field}` with a 4xx/5xx status.
// A handler that throws never takes the agent down: unexpected errors become 500 and are logged.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Logger } from '../../pkg/hive/index.js';
import type { ApiRequest, ApiRoute, ApiServerHandle, ApiStream, Method } from './types.js';

/** Largest request body accepted (10,000 services in one `cilia apply` is a few MiB). */
const MAX_BODY = 256 * 1024 * 1024;

interface Compiled {
  readonly route: ApiRoute;
  readonly re: RegExp;
  readonly names: string[];
}

function compile(r: ApiRoute): Compiled {
  const names: string[] = [];
  const re = new RegExp(
    '^' +
      r.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([a-zA-Z]+)\}/g, (_m, name: string) => {
        names.push(name);
        return '([^/]+)';
      }) +
      '/?$',
  );
  return { route: r, re, names };
}

function statusOf(err: unknown): { status: number; field?: string } {
  if (err && typeof err === 'object') {
    const e = err as { statusCode?: unknown; field?: unknown; path?: unknown };
    if (typeof e.statusCode === 'number') return { status: e.statusCode, field: typeof e.field === 'string' ? e.field : undefined };
  }
  return { status: 500 };
}

function isStream(v: unknown): v is ApiStream {
  return typeof v === 'object' && v !== null && typeof (v as ApiStream).stream === 'function';
}

/** Serves `routes` on `socketPath`. */
export class ApiServer implements ApiServerHandle {
  private server?: http.Server;
  private compiled: Compiled[] = [];
  private readonly openStreams = new Set<AbortController>();

  constructor(
    readonly socketPath: string,
    private readonly routeList: readonly ApiRoute[],
    private readonly log: Logger,
  ) {
    const seen = new Set<string>();
    for (const r of routeList) {
      const k = `${r.method} ${r.path}`;
      if (seen.has(k)) throw new Error(`API route ${k} registered twice`);
      seen.add(k);
    }
    const listing: ApiRoute = {
      method: 'GET',
      path: '/v1/routes',
      doc: 'Every API route with its one-line doc',
      handler: () => this.routeList.map((r) => ({ method: r.method, path: r.path, doc: r.doc })),
    };
    this.compiled = [...routeList, listing].map(compile);
  }

  routes(): readonly ApiRoute[] {
    return this.routeList;
  }

  /** Listens on the socket; a stale socket file from a previous run is replaced. */
  async start(): Promise<void> {
    fs.mkdirSync(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    try {
      fs.unlinkSync(this.socketPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    const server = http.createServer((req, res) => void this.handle(req, res));
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      // Create the socket with 0600 permissions from the start: only root may talk to the agent.
      const old = process.umask(0o177);
      try {
        server.listen(this.socketPath, () => {
          server.off('error', reject);
          resolve();
        });
      } finally {
        process.umask(old);
      }
    });
    fs.chmodSync(this.socketPath, 0o600);
    this.log.info('API server listening', { socket: this.socketPath, routes: this.compiled.length });
  }

  async stop(): Promise<void> {
    for (const c of this.openStreams) c.abort();
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
    try {
      fs.unlinkSync(this.socketPath);
    } catch {
      /* already gone */
    }
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    const method = (req.method ?? 'GET') as Method;
    const ctl = new AbortController();
    res.on('close', () => ctl.abort());
    try {
      const match = this.match(method, url.pathname);
      if (!match) {
        const pathExists = this.compiled.some((c) => c.re.test(url.pathname));
        return this.send(res, pathExists ? 405 : 404, { error: `${pathExists ? 'method not allowed' : 'no such route'}: ${method} ${url.pathname}` });
      }
      const rawBody = await this.readBody(req);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0].trim();
      // The body is parsed when a handler first reads it: `cilia apply` reads the raw text itself (a
      // 6 MB manifest would otherwise be parsed twice).
      let parsed: { value: unknown } | undefined;
      const parseBody = (): unknown => {
        if (parsed) return parsed.value;
        let value: unknown = rawBody;
        if (rawBody && (contentType === 'application/json' || contentType === '')) {
          try {
            value = JSON.parse(rawBody);
          } catch (err) {
            if (contentType === 'application/json') throw Object.assign(new Error(`request body is not valid JSON: ${(err as Error).message}`), { statusCode: 400 });
          }
        }
        parsed = { value };
        return value;
      };
      const request: ApiRequest = {
        method,
        path: url.pathname,
        params: match.params,
        query: url.searchParams,
        get body() {
          return parseBody();
        },
        rawBody,
        contentType,
        signal: ctl.signal,
        raw: req,
      };
      const result = await match.route.handler(request);
      if (isStream(result)) {
        this.openStreams.add(ctl);
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.flushHeaders();
        try {
          await result.stream(res, ctl.signal);
        } finally {
          this.openStreams.delete(ctl);
          res.end();
        }
        return;
      }
      if (result && typeof result === 'object' && (result as { __response?: boolean }).__response) {
        const r = result as { status: number; body?: unknown };
        return this.send(res, r.status, r.body);
      }
      return this.send(res, result === undefined ? 204 : 200, result);
    } catch (err) {
      const { status, field } = statusOf(err);
      const message = err instanceof Error ? err.message : String(err);
      if (status >= 500) this.log.error('API handler failed', { method, path: url.pathname, error: err });
      else this.log.debug('API request rejected', { method, path: url.pathname, status, error: message });
      if (!res.headersSent) this.send(res, status, field ? { error: message, field } : { error: message });
      else res.end();
    }
  }

  private match(method: Method, pathname: string): { route: ApiRoute; params: Record<string, string> } | undefined {
    for (const c of this.compiled) {
      if (c.route.method !== method) continue;
      const m = c.re.exec(pathname);
      if (!m) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        try {
          params[n] = decodeURIComponent(m[i + 1]);
        } catch {
          // A client's bad percent-encoding (`%ff`) is its error, not the agent's.
          throw Object.assign(new Error(`path parameter ${n}: malformed percent-encoding "${m[i + 1]}"`), { statusCode: 400, field: n });
        }
      });
      return { route: c.route, params };
    }
    return undefined;
  }

  private readBody(req: http.IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) {
          reject(Object.assign(new Error(`request body larger than ${MAX_BODY} bytes`), { statusCode: 413 }));
          req.destroy();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    if (status === 204 || body === undefined) {
      res.writeHead(status === 200 ? 204 : status);
      res.end();
      return;
    }
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }
}

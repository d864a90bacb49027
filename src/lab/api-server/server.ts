/**
 * The lab API server's HTTPS layer (node:https; a handful of paths need no router library): TLS with the lab's own
 * CA, per-request overrides, request bodies up to the API server's limit, the policy store (persisted to
 * `<stateDir>/policies.json`), and routeRequest for everything else. Listens on 127.0.0.1 only.
 */
import { createWriteStream } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import type { LabPlan } from '../plan.ts';
import type { LabOverrides } from './objects.ts';
import { ensureLabApiCredentials } from './pki.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { routeRequest } from './router.ts';
import { PolicyStore } from './policy-store.ts';
import { requestEntityTooLarge } from './status.ts';

/**
 * The largest request body accepted: kube-apiserver's --max-request-bytes default for JSON/YAML bodies
 * (k8s.io/apiserver pkg/server/config.go MaxRequestBodyBytes = 3 * 1024 * 1024).
 */
export const MAX_REQUEST_BODY_BYTES = 3 * 1024 * 1024;

export interface LabApiServerOptions {
  stateDir: string;
  plan: LabPlan;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  /** creationTimestamp of every object; defaults to now. */
  createdAt?: Date;
  /** The policy store to serve; defaults to one opened on `<stateDir>/policies.json`. */
  policies?: PolicyStore;
}

export interface LabApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  caCertPath: string;
  tokenPath: string;
  /** Every policy written through this server; subscribe to its 'change' event to follow writes. */
  policies: PolicyStore;
  close(): Promise<void>;
}

export const LAB_API_HOST = '127.0.0.1';

export function labApiPaths(stateDir: string) {
  return {
    kubeconfig: join(stateDir, 'kubeconfig'),
    overrides: join(stateDir, 'overrides.json'),
    info: join(stateDir, 'api-server.json'),
    policies: join(stateDir, 'policies.json'),
    /** What the lab's Felix (policy-reconciler.ts) last programmed. */
    felixStatus: join(stateDir, 'felix-status.json'),
    /**
     * One line per request (time, client port, method, URL, status; never the token), as an API server's audit log:
     * tests prove from the cluster's side which requests reached it, and that another cluster's worker sent none.
     */
    requests: join(stateDir, 'api-requests.log'),
  };
}

/** `<stateDir>/overrides.json`, read per request so the lab (or a test) can mark a pod not ready or failed. */
export async function readOverrides(path: string): Promise<LabOverrides> {
  try {
    const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
    return parsed !== null && typeof parsed === 'object' ? (parsed as LabOverrides) : {};
  } catch {
    return {};
  }
}

class BodyTooLarge extends Error {}

/** The request body as text, or BodyTooLarge past MAX_REQUEST_BODY_BYTES (checked as it streams, not after). */
async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BODY_BYTES) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function internalError(res: ServerResponse, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason: 'InternalError',
      code: 500,
    }),
  );
}

export async function startLabApiServer(options: LabApiServerOptions): Promise<LabApiServer> {
  const { stateDir, plan } = options;
  const credentials = await ensureLabApiCredentials(stateDir, plan.lab);
  const paths = labApiPaths(stateDir);
  const createdAt = options.createdAt ?? new Date();
  const kernelVersion = release();
  let serverAddress = `${LAB_API_HOST}:0`;
  const policies = options.policies ?? (await PolicyStore.open(paths.policies));
  const requestLog = createWriteStream(paths.requests, { flags: 'a' });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    let body: string;
    try {
      body = await readBody(req);
    } catch (err) {
      if (!(err instanceof BodyTooLarge)) throw err;
      res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
      res.end(JSON.stringify(requestEntityTooLarge(MAX_REQUEST_BODY_BYTES)));
      req.destroy();
      return;
    }
    const overrides = await readOverrides(paths.overrides);
    const headers = {
      accept: req.headers.accept,
      authorization: req.headers.authorization,
      'content-type': req.headers['content-type'],
    };
    const response = routeRequest(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers, body },
      {
        objects: { plan, createdAt, kernelVersion, overrides, policies },
        token: credentials.token,
        serverAddress,
        now: new Date(),
      },
    );
    // A write is on disk before its response, so a reconciler in another process sees what kubectl was told.
    if (response.status < 300 && req.method !== 'GET' && req.method !== 'HEAD') await policies.flush();
    const warnings = (response.warnings ?? []).map((w) => `299 - ${JSON.stringify(w)}`);
    res.setHeader('content-type', response.contentType);
    res.setHeader('cache-control', 'no-cache, private');
    if (warnings.length > 0) res.setHeader('warning', warnings);
    res.writeHead(response.status);
    res.end(req.method === 'HEAD' ? undefined : response.body);
    requestLog.write(
      `${new Date().toISOString()} ${req.socket.remotePort ?? '-'} ${req.method ?? 'GET'} ${req.url ?? '/'} ${response.status}\n`,
    );
  };
  const server: Server = createServer({ cert: credentials.certPem, key: credentials.keyPem }, (req, res) => {
    handle(req, res).catch((err: unknown) => internalError(res, err));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, LAB_API_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  serverAddress = `${LAB_API_HOST}:${port}`;
  const url = `https://${serverAddress}`;
  await writeKubeconfig(paths.kubeconfig, {
    lab: plan.lab,
    url,
    caCertPem: credentials.caCertPem,
    token: credentials.token,
  });
  return {
    url,
    port,
    kubeconfigPath: paths.kubeconfig,
    caCertPath: credentials.caCertPath,
    tokenPath: credentials.tokenPath,
    policies,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => requestLog.end(() => resolve()));
        server.closeAllConnections();
      }),
  };
}

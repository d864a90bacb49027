/**
 * The lab API server's HTTPS layer (node:https; a handful of read-only paths need no router library): TLS with the
 * lab's own CA, per-request overrides, and routeRequest for everything else. Listens on 127.0.0.1 only.
 */
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

export interface LabApiServerOptions {
  stateDir: string;
  plan: LabPlan;
  /** 0 or absent: an ephemeral port. */
  port?: number;
  /** creationTimestamp of every object; defaults to now. */
  createdAt?: Date;
}

export interface LabApiServer {
  url: string;
  port: number;
  kubeconfigPath: string;
  caCertPath: string;
  tokenPath: string;
  close(): Promise<void>;
}

export const LAB_API_HOST = '127.0.0.1';

export function labApiPaths(stateDir: string) {
  return { kubeconfig: join(stateDir, 'kubeconfig'), overrides: join(stateDir, 'overrides.json'), info: join(stateDir, 'api-server.json') };
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

function internalError(res: ServerResponse, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  res.writeHead(500, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'InternalError', code: 500 }));
}

export async function startLabApiServer(options: LabApiServerOptions): Promise<LabApiServer> {
  const { stateDir, plan } = options;
  const credentials = await ensureLabApiCredentials(stateDir, plan.lab);
  const paths = labApiPaths(stateDir);
  const createdAt = options.createdAt ?? new Date();
  const kernelVersion = release();
  let serverAddress = `${LAB_API_HOST}:0`;

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    req.resume(); // bodies are never read: every write verb is refused
    const overrides = await readOverrides(paths.overrides);
    const response = routeRequest(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: { accept: req.headers.accept, authorization: req.headers.authorization } },
      { objects: { plan, createdAt, kernelVersion, overrides }, token: credentials.token, serverAddress, now: new Date() },
    );
    res.writeHead(response.status, { 'content-type': response.contentType, 'cache-control': 'no-cache, private' });
    res.end(req.method === 'HEAD' ? undefined : response.body);
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
  await writeKubeconfig(paths.kubeconfig, { lab: plan.lab, url, caCertPem: credentials.caCertPem, token: credentials.token });
  return {
    url,
    port,
    kubeconfigPath: paths.kubeconfig,
    caCertPath: credentials.caCertPath,
    tokenPath: credentials.tokenPath,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

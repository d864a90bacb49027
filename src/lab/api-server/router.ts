/**
 * Request → response for the lab API server, without sockets: authentication, discovery documents, /openapi/v3,
 * list and get of every lab resource with label/field selectors, Table output for kubectl, writes of the policy
 * kinds (writes.ts), and errors as Status objects.
 * The HTTPS layer (server.ts) only reads the request, calls `routeRequest` and writes what it returns.
 */
import { timingSafeEqual } from 'node:crypto';
import type { KubeObject, ObjectContext } from './objects.ts';
import { LAB_KUBELET_VERSION } from './objects.ts';
import { SelectorError, matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import {
  apiGroupDocument,
  apiGroupList,
  apiResourceList,
  apiVersions,
  findResource,
  groupVersionOf,
  type LabResource,
} from './resources.ts';
import { badRequest, methodNotAllowed, notFound, unauthorized, unknownPath } from './status.ts';
import { toTable, type IncludeObject } from './table.ts';
import { openApiDocument, openApiIndex } from './openapi.ts';
import { serveWrite } from './writes.ts';
import { podLogText } from './system-objects.ts';

export interface ApiRequest {
  method: string;
  /** Path and query, as in the request line. */
  url: string;
  headers: { accept?: string | undefined; authorization?: string | undefined; 'content-type'?: string | undefined };
  /** The request body, for writes (the HTTPS layer caps its size). */
  body?: string;
}

export interface ApiResponse {
  status: number;
  contentType: string;
  body: string;
  /** `Warning: 299 - "…"` headers, as the API server sends for unknown fields under fieldValidation=Warn. */
  warnings?: string[];
}

export interface RouteContext {
  objects: ObjectContext;
  token: string;
  /** host:port clients reach us at (the /api document's serverAddressByClientCIDRs). */
  serverAddress: string;
  now: Date;
}

const JSON_TYPE = 'application/json';
/** Paths a real API server lets anonymous clients read (RBAC system:public-info-viewer). */
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/livez', '/version']);
const READ_METHODS = new Set(['GET', 'HEAD']);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function json(status: number, body: unknown): ApiResponse {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(body) };
}

function text(status: number, body: string): ApiResponse {
  return { status, contentType: 'text/plain; charset=utf-8', body };
}

type AuthResult = 'ok' | 'anonymous' | 'rejected';

/** A wrong token is rejected everywhere; no token at all is anonymous, allowed only on the public paths. */
export function authenticate(authorization: string | undefined, token: string): AuthResult {
  if (authorization === undefined) return 'anonymous';
  const m = /^Bearer (?<presented>\S+)$/i.exec(authorization.trim());
  if (!m) return 'rejected';
  const presented = Buffer.from(m.groups!.presented!);
  const expected = Buffer.from(token);
  return presented.length === expected.length && timingSafeEqual(presented, expected) ? 'ok' : 'rejected';
}

export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '')
    .split(',')
    .some((part) => /;\s*as=Table/.test(part) && /;\s*g=meta\.k8s\.io/.test(part) && /;\s*v=v1(?:;|$|\s)/.test(part));
}

function includeObjectOf(value: string | null): IncludeObject {
  return value === 'None' || value === 'Object' ? value : 'Metadata';
}

function version(): Record<string, string> {
  const [major, minor] = LAB_KUBELET_VERSION.slice(1).split('.');
  return {
    major: major!,
    minor: minor!,
    gitVersion: LAB_KUBELET_VERSION,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-04-22T16:00:00Z',
    goVersion: 'go1.23.8',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  return (
    (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
    a.metadata.name.localeCompare(b.metadata.name)
  );
}

function listResourceVersion(objects: KubeObject[]): string {
  return String(objects.reduce((max, o) => Math.max(max, Number(o.metadata.resourceVersion)), 1000));
}

interface ResourcePath {
  resource: LabResource;
  namespace: string | null;
  name: string | null;
}

/** Splits `/api/v1/...` or `/apis/<group>/<version>/...` into a resource, namespace and name; null when not one. */
function resourcePath(segments: string[]): ResourcePath | 'unknown' | null {
  let group: string;
  let rest: string[];
  if (segments[0] === 'api' && segments[1] === 'v1') {
    group = '';
    rest = segments.slice(2);
  } else if (segments[0] === 'apis' && segments.length >= 3) {
    group = segments[1]!;
    rest = segments.slice(3);
  } else {
    return null;
  }
  const version = group === '' ? 'v1' : segments[2]!;
  if (rest.length === 0) return null;
  // /namespaces/<ns>/<resource>[/<name>] for namespaced resources; otherwise /<resource>[/<name>].
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    const resource = findResource(group, version, rest[2]!);
    if (!resource?.namespaced || rest.length > 4) return 'unknown';
    return { resource, namespace: rest[1]!, name: rest[3] ?? null };
  }
  const resource = findResource(group, version, rest[0]!);
  if (!resource || rest.length > 2 || (resource.namespaced && rest.length === 2)) return 'unknown';
  return { resource, namespace: null, name: rest[1] ?? null };
}

function serveResource(path: ResourcePath, query: URLSearchParams, req: ApiRequest, ctx: RouteContext): ApiResponse {
  const { resource } = path;
  if (query.get('watch') === 'true' || query.get('watch') === '1') return json(405, methodNotAllowed());
  const apiVersion = groupVersionOf(resource);
  const all = resource.build(ctx.objects).sort(byNamespaceAndName);
  const inScope = path.namespace === null ? all : all.filter((o) => o.metadata.namespace === path.namespace);

  let selected: KubeObject[];
  if (path.name !== null) {
    const found = inScope.find((o) => o.metadata.name === path.name);
    if (!found) return json(404, notFound(resource.name, resource.group, path.name));
    selected = [found];
  } else {
    try {
      const labels = parseLabelSelector(query.get('labelSelector') ?? '');
      const fields = parseFieldSelector(query.get('fieldSelector') ?? '', resource.fieldLabels);
      selected = inScope.filter((o) => matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o));
    } catch (err) {
      if (err instanceof SelectorError) return json(400, badRequest(err.message));
      throw err;
    }
  }

  const resourceVersion = listResourceVersion(selected);
  if (wantsTable(req.headers.accept)) {
    const includeObject = includeObjectOf(query.get('includeObject'));
    return json(
      200,
      toTable(resource.printer, selected, {
        now: ctx.now,
        apiVersion,
        kind: resource.kind,
        includeObject,
        resourceVersion,
      }),
    );
  }
  if (path.name !== null) return json(200, { kind: resource.kind, apiVersion, ...selected[0] });
  return json(200, { kind: `${resource.kind}List`, apiVersion, metadata: { resourceVersion }, items: selected });
}

function segmentsOf(path: string): string[] | null {
  try {
    return path
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
  } catch {
    return null;
  }
}

function resourcePathOf(path: string): ResourcePath | null {
  const segments = segmentsOf(path);
  const target = segments === null ? null : resourcePath(segments);
  return target === null || target === 'unknown' ? null : target;
}

export function routeRequest(req: ApiRequest, ctx: RouteContext): ApiResponse {
  const url = new URL(req.url, 'https://lab.invalid');
  const path = url.pathname.replace(/\/+$/, '') || '/';
  const auth = authenticate(req.headers.authorization, ctx.token);
  if (auth === 'rejected' || (auth === 'anonymous' && !PUBLIC_PATHS.has(path))) return json(401, unauthorized());
  const writing = WRITE_METHODS.has(req.method);
  if (!READ_METHODS.has(req.method) && !writing) return json(405, methodNotAllowed());
  if (writing) {
    const target = resourcePathOf(path);
    if (target === null) return json(404, unknownPath());
    if (target.resource.family === undefined) return json(405, methodNotAllowed());
    const result = serveWrite(
      target,
      { method: req.method, query: url.searchParams, body: req.body ?? '', contentType: req.headers['content-type'] },
      ctx.objects,
      ctx.now,
    );
    return {
      ...json(result.status, result.body),
      ...(result.warnings && result.warnings.length > 0 ? { warnings: result.warnings } : {}),
    };
  }
  if (path === '/openapi/v3') return json(200, openApiIndex());
  if (path.startsWith('/openapi/v3/')) {
    const doc = openApiDocument(path.slice('/openapi/v3/'.length));
    return doc ? json(200, doc) : json(404, unknownPath());
  }

  switch (path) {
    case '/healthz':
    case '/readyz':
    case '/livez':
      return text(200, 'ok');
    case '/version':
      return json(200, version());
    case '/api':
      return json(200, apiVersions(ctx.serverAddress));
    case '/apis':
      return json(200, apiGroupList());
    case '/api/v1':
      return json(200, apiResourceList('', 'v1'));
  }
  const segments = segmentsOf(path);
  if (segments === null) return json(404, unknownPath());
  if (segments[0] === 'apis' && segments.length === 2) {
    const doc = apiGroupDocument(segments[1]!);
    return doc ? json(200, doc) : json(404, unknownPath());
  }
  if (segments[0] === 'apis' && segments.length === 3) {
    const doc = apiResourceList(segments[1]!, segments[2]!);
    return doc ? json(200, doc) : json(404, unknownPath());
  }
  // GET /api/v1/namespaces/<ns>/pods/<name>/log (kubectl logs, cluster-info dump): a pod that exists answers text.
  if (
    segments.length === 7 &&
    segments[0] === 'api' &&
    segments[2] === 'namespaces' &&
    segments[4] === 'pods' &&
    segments[6] === 'log'
  ) {
    const [namespace, name] = [segments[3]!, segments[5]!];
    const pods = findResource('', 'v1', 'pods')!.build(ctx.objects);
    if (!pods.some((o) => o.metadata.namespace === namespace && o.metadata.name === name))
      return json(404, notFound('pods', '', name));
    return text(200, podLogText(namespace, name));
  }
  const target = resourcePath(segments);
  if (target === null || target === 'unknown') return json(404, unknownPath());
  return serveResource(target, url.searchParams, req, ctx);
}

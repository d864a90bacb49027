/**
 * create (POST), replace (PUT), patch (PATCH) and delete (DELETE) of the policy kinds, as the API server answers
 * them: 201 with the stored object on create, 200 on replace and patch, a Success Status on delete; 409
 * AlreadyExists / Conflict, 404 NotFound, 415 for a patch type the kind does not take, 422 Invalid with causes,
 * 400 for unknown fields under fieldValidation=Strict. dryRun=All runs every check and stores nothing; fieldManager
 * is accepted and ignored (the lab keeps no managedFields). The router calls `serveWrite`; no sockets here.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CALICO_V3_GROUP, buildNamespaces, timestamp, type KubeObject, type ObjectContext } from './objects.ts';
import { applyPatch, PatchError, patchTypeOf, PATCH_CONTENT_TYPES, type Json } from './patch.ts';
import { PolicyConflictError, PolicyExistsError, PolicyNotFoundError, type PolicyStore } from './policy-store.ts';
import { schemaNameOf } from './policy-schemas.ts';
import { groupVersionOf, type LabResource } from './resources.ts';
import {
  alreadyExists,
  badRequest,
  conflict,
  deleted,
  invalid,
  methodNotAllowed,
  notFound,
  unsupportedMediaType,
  type KubeStatus,
} from './status.ts';
import {
  checkAgainstSchema,
  defaultCalicoV3Policy,
  defaultKubernetesNetworkPolicy,
  fieldValidationOf,
  validateObjectName,
  type FieldValidation,
} from './validation.ts';

export interface WriteTarget {
  resource: LabResource;
  namespace: string | null;
  name: string | null;
}

export interface WriteRequest {
  method: string;
  query: URLSearchParams;
  body: string;
  contentType: string | undefined;
}

export interface WriteResult {
  status: number;
  body: unknown;
  /** Warning headers (RFC 7234 299), e.g. unknown fields under fieldValidation=Warn. */
  warnings?: string[];
}

type JsonObject = { [key: string]: Json };

class WriteRefused extends Error {
  readonly status: KubeStatus;
  constructor(status: KubeStatus) {
    super(status.message);
    this.status = status;
  }
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function refuse(status: KubeStatus): never {
  throw new WriteRefused(status);
}

function parseBody(body: string): JsonObject {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    refuse(badRequest(`json: ${err instanceof Error ? err.message : String(err)}`));
  }
  if (!isObject(parsed)) refuse(badRequest("Object 'Kind' is missing in the request body"));
  return parsed;
}

/** apimachinery's generateName suffix: 5 characters of rand.String's alphabet. */
function generatedName(prefix: string): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return prefix + [...randomBytes(5)].map((b) => alphabet[b % alphabet.length]).join('');
}

interface Prepared {
  object: KubeObject;
  warnings: string[];
}

/** Checks and normalises a whole object for `target` (what create and replace store, and patch stores after patching). */
function prepare(
  target: WriteTarget,
  raw: JsonObject,
  ctx: ObjectContext,
  validation: FieldValidation,
  creating: boolean,
): Prepared {
  const { resource } = target;
  const apiVersion = groupVersionOf(resource);
  if (raw.apiVersion !== undefined && raw.apiVersion !== apiVersion) {
    refuse(
      badRequest(
        `the API version in the data (${String(raw.apiVersion)}) does not match the expected API version (${apiVersion})`,
      ),
    );
  }
  if (raw.kind !== undefined && raw.kind !== resource.kind)
    refuse(
      badRequest(`the kind in the data (${String(raw.kind)}) does not match the expected kind (${resource.kind})`),
    );
  const metadata: JsonObject = isObject(raw.metadata) ? { ...raw.metadata } : {};
  if (resource.namespaced) {
    if (metadata.namespace !== undefined && metadata.namespace !== '' && metadata.namespace !== target.namespace) {
      refuse(badRequest('the namespace of the provided object does not match the namespace sent on the request'));
    }
    metadata.namespace = target.namespace!;
    if (!buildNamespaces(ctx).some((n) => n.metadata.name === target.namespace))
      refuse(notFound('namespaces', '', target.namespace!));
  } else {
    delete metadata.namespace;
  }
  if (
    creating &&
    (metadata.name === undefined || metadata.name === '') &&
    typeof metadata.generateName === 'string' &&
    metadata.generateName !== ''
  ) {
    metadata.name = generatedName(metadata.generateName);
  }
  if (target.name !== null && metadata.name !== undefined && metadata.name !== target.name) {
    refuse(
      badRequest(
        `the name of the object (${String(metadata.name)}) does not match the name on the URL (${target.name})`,
      ),
    );
  }
  if (target.name !== null && metadata.name === undefined) metadata.name = target.name;
  if (creating)
    for (const serverSet of ['uid', 'resourceVersion', 'creationTimestamp', 'generation', 'deletionTimestamp'])
      delete metadata[serverSet];

  const name = typeof metadata.name === 'string' ? metadata.name : '';
  const check = checkAgainstSchema(schemaNameOf(resource.group, resource.kind), {
    ...raw,
    metadata,
    apiVersion,
    kind: resource.kind,
  });
  const causes = [
    ...validateObjectName(metadata.name, metadata.generateName),
    ...check.causes.filter((c) => c.field !== 'metadata.name'),
  ];
  if (validation === 'Strict' && check.unknownFields.length > 0) {
    refuse(badRequest(`strict decoding error: ${check.unknownFields.map((f) => `unknown field "${f}"`).join(', ')}`));
  }
  if (causes.length > 0) refuse(invalid(resource.kind, resource.group, name, causes));
  let object = check.value as JsonObject;
  if (resource.family === 'kubernetes') object = defaultKubernetesNetworkPolicy(object);
  else if (resource.group === CALICO_V3_GROUP && resource.family !== 'calico-tier')
    object = defaultCalicoV3Policy(object);
  const { apiVersion: _apiVersion, kind: _kind, ...stored } = object;
  return {
    object: stored as unknown as KubeObject,
    warnings: validation === 'Warn' ? check.unknownFields.map((f) => `unknown field "${f}"`) : [],
  };
}

function served(resource: LabResource, object: KubeObject): Record<string, unknown> {
  return { apiVersion: groupVersionOf(resource), kind: resource.kind, ...object };
}

/** What a dry-run create returns: the object as it would be stored, without a resourceVersion (none was spent). */
function dryRunCreated(object: KubeObject, now: Date): KubeObject {
  return {
    ...object,
    metadata: {
      ...object.metadata,
      uid: randomUUID(),
      creationTimestamp: timestamp(now),
      generation: 1,
      resourceVersion: '',
    },
  };
}

function storeOf(ctx: ObjectContext): PolicyStore {
  if (!ctx.policies) refuse(methodNotAllowed());
  return ctx.policies;
}

function write(target: WriteTarget, req: WriteRequest, ctx: ObjectContext, now: Date): WriteResult {
  const { resource } = target;
  const family = resource.family;
  if (family === undefined) return { status: 405, body: methodNotAllowed() };
  const store = storeOf(ctx);
  const validation = fieldValidationOf(req.query.get('fieldValidation'));
  if (validation === null)
    refuse(
      badRequest(
        `fieldValidation must be one of "Ignore", "Warn", or "Strict", got: ${req.query.get('fieldValidation')}`,
      ),
    );
  const dryRunValues = req.query.getAll('dryRun');
  if (dryRunValues.some((v) => v !== 'All')) refuse(badRequest(`Invalid dry run value: ${dryRunValues.join(',')}`));
  const dryRun = dryRunValues.length > 0;
  const current = () => {
    const found = target.name === null ? undefined : store.get(family, target.namespace, target.name);
    return found ?? refuse(notFound(resource.name, resource.group, target.name ?? ''));
  };

  switch (req.method) {
    case 'POST': {
      if (target.name !== null) return { status: 405, body: methodNotAllowed() };
      const { object, warnings } = prepare(target, parseBody(req.body), ctx, validation, true);
      if (store.get(family, target.namespace, object.metadata.name))
        refuse(alreadyExists(resource.name, resource.group, object.metadata.name));
      const stored = dryRun ? dryRunCreated(object, now) : store.create(family, object);
      return { status: 201, body: served(resource, stored), warnings };
    }
    case 'PUT': {
      if (target.name === null) return { status: 405, body: methodNotAllowed() };
      const { object, warnings } = prepare(target, parseBody(req.body), ctx, validation, false);
      const existing = current();
      const stored = dryRun
        ? { ...object, metadata: { ...existing.metadata, ...object.metadata, uid: existing.metadata.uid } }
        : store.update(family, object);
      return { status: 200, body: served(resource, stored), warnings };
    }
    case 'PATCH': {
      if (target.name === null) return { status: 405, body: methodNotAllowed() };
      const type = patchTypeOf(req.contentType);
      const accepted = resource.patchTypes ?? [];
      if (type === null || type === 'apply' || !accepted.includes(type))
        refuse(unsupportedMediaType([...accepted, 'apply' as const].map((t) => PATCH_CONTENT_TYPES[t])));
      let patch: Json;
      try {
        patch = JSON.parse(req.body) as Json;
      } catch (err) {
        refuse(badRequest(`error decoding patch: ${err instanceof Error ? err.message : String(err)}`));
      }
      const existing = current();
      let patched: Json;
      try {
        patched = applyPatch(type, served(resource, existing) as unknown as Json, patch);
      } catch (err) {
        if (err instanceof PatchError)
          refuse({
            ...badRequest(err.message),
            code: type === 'json' ? 422 : 400,
            reason: type === 'json' ? 'Invalid' : 'BadRequest',
          });
        throw err;
      }
      if (!isObject(patched)) refuse(badRequest('the patch did not produce an object'));
      const { object, warnings } = prepare(target, patched, ctx, validation, false);
      const stored = dryRun ? object : store.update(family, object);
      return { status: 200, body: served(resource, stored), warnings };
    }
    case 'DELETE': {
      if (target.name === null) return { status: 405, body: methodNotAllowed() };
      const gone = dryRun ? current() : store.delete(family, target.namespace, target.name);
      return { status: 200, body: deleted(resource.name, resource.group, gone.metadata.name, gone.metadata.uid) };
    }
    default:
      return { status: 405, body: methodNotAllowed() };
  }
}

export function serveWrite(target: WriteTarget, req: WriteRequest, ctx: ObjectContext, now: Date): WriteResult {
  try {
    return write(target, req, ctx, now);
  } catch (err) {
    if (err instanceof WriteRefused) return { status: err.status.code, body: err.status };
    const name = target.name ?? '';
    if (err instanceof PolicyExistsError)
      return { status: 409, body: alreadyExists(target.resource.name, target.resource.group, name) };
    if (err instanceof PolicyConflictError)
      return { status: 409, body: conflict(target.resource.name, target.resource.group, name) };
    if (err instanceof PolicyNotFoundError)
      return { status: 404, body: notFound(target.resource.name, target.resource.group, name) };
    throw err;
  }
}

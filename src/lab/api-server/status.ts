/**
 * Errors as the Kubernetes API server returns them: a v1 Status object with reason, message and code
 * (k8s.io/apimachinery pkg/api/errors). Messages match upstream's so clients and kubectl print what they would
 * against a real cluster.
 */

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
}

export interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): KubeStatus {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** `pods "x" not found`; for grouped resources `ippools.crd.projectcalico.org "x" not found`. */
export function notFound(resource: string, group: string, name: string): KubeStatus {
  const qualified = group === '' ? resource : `${resource}.${group}`;
  return failure(404, 'NotFound', `${qualified} "${name}" not found`, {
    name,
    ...(group === '' ? {} : { group }),
    kind: resource,
  });
}

/** A path that names no resource. */
export function unknownPath(): KubeStatus {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function unauthorized(): KubeStatus {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function badRequest(message: string): KubeStatus {
  return failure(400, 'BadRequest', message);
}

export function methodNotAllowed(): KubeStatus {
  return failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {});
}

function qualified(resource: string, group: string): string {
  return group === '' ? resource : `${resource}.${group}`;
}

/** POST of a name that exists: `networkpolicies.networking.k8s.io "x" already exists`. */
export function alreadyExists(resource: string, group: string, name: string): KubeStatus {
  return failure(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, {
    name,
    ...(group === '' ? {} : { group }),
    kind: resource,
  });
}

/** A write whose metadata.resourceVersion is not the stored one. */
export function conflict(resource: string, group: string, name: string): KubeStatus {
  return failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, ...(group === '' ? {} : { group }), kind: resource },
  );
}

/** 422 with one cause per bad field: `NetworkPolicy.networking.k8s.io "x" is invalid: [a, b]` (errors.NewInvalid). */
export function invalid(kind: string, group: string, name: string, causes: StatusCause[]): KubeStatus {
  const listed = causes.map((c) => `${c.field}: ${c.message}`);
  const summary = listed.length === 1 ? listed[0]! : `[${listed.join(', ')}]`;
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`;
  return failure(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    name,
    ...(group === '' ? {} : { group }),
    kind,
    causes,
  });
}

export function unsupportedMediaType(accepted: string[]): KubeStatus {
  return failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    {},
  );
}

export function requestEntityTooLarge(limit: number): KubeStatus {
  return failure(
    413,
    'RequestEntityTooLarge',
    `the server has received a request that is too large: limit is ${limit}`,
    {},
  );
}

/** DELETE of an object without finalizers: a Success Status naming what went (registry.Store, ReturnDeletedObject false). */
export function deleted(resource: string, group: string, name: string, uid: string) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    details: { name, ...(group === '' ? {} : { group }), kind: resource, uid },
  };
}

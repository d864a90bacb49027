/**
 * Errors as the Kubernetes API server returns them: a v1 Status object with reason, message and code
 * (k8s.io/apimachinery pkg/api/errors). Messages match upstream's so clients and kubectl print what they would
 * against a real cluster.
 */

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
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
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** `pods "x" not found`; for grouped resources `ippools.crd.projectcalico.org "x" not found`. */
export function notFound(resource: string, group: string, name: string): KubeStatus {
  const qualified = group === '' ? resource : `${resource}.${group}`;
  return failure(404, 'NotFound', `${qualified} "${name}" not found`, { name, ...(group === '' ? {} : { group }), kind: resource });
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

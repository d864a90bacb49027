/**
 * /openapi/v3: the index and one OpenAPI 3.0 document per group/version of the writable (policy) resources.
 * kubectl apply/create/replace (v1.27+) read them for two things: whether the PATCH operation of a kind takes the
 * `fieldValidation` query parameter (cli-runtime queryParamVerifierV3: then validation is left to the server and
 * kubectl sends fieldValidation=Strict; without a document it falls back to /openapi/v2 protobuf and a 404 there
 * fails the apply), and, for kinds whose PATCH accepts application/strategic-merge-patch+json, the patch strategies
 * (x-kubernetes-patch-strategy) of its schema. Custom resources' PATCH does not list strategic merge, so kubectl
 * sends them a JSON merge patch, as against a real cluster. Pure.
 */
import { createHash } from 'node:crypto';
import { LAB_RESOURCES, type LabResource } from './resources.ts';
import { LAB_KUBELET_VERSION } from './objects.ts';
import { PATCH_CONTENT_TYPES } from './patch.ts';
import { ref, schemaClosure, schemaNameOf, type Schema } from './policy-schemas.ts';

const writable = (): LabResource[] => LAB_RESOURCES.filter((r) => r.family !== undefined);

/** The index key of a group/version: "api/v1" or "apis/<group>/<version>". */
function indexKey(r: Pick<LabResource, 'group' | 'version'>): string {
  return r.group === '' ? `api/${r.version}` : `apis/${r.group}/${r.version}`;
}

const query = (name: string, description: string) => ({
  name,
  in: 'query',
  description,
  schema: { type: 'string' },
  uniqueItems: true,
});
const DRY_RUN = query(
  'dryRun',
  'When present, indicates that modifications should not be persisted. Valid values: All',
);
const FIELD_MANAGER = query(
  'fieldManager',
  'fieldManager is a name associated with the actor or entity that is making these changes.',
);
const FIELD_VALIDATION = query(
  'fieldValidation',
  'fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values: Ignore, Warn, Strict',
);
const PRETTY = query('pretty', "If 'true', then the output is pretty printed.");
const pathParam = (name: string, description: string) => ({
  name,
  in: 'path',
  description,
  required: true,
  schema: { type: 'string' },
  uniqueItems: true,
});

function operation(
  r: LabResource,
  action: string,
  verb: string,
  body?: Record<string, { schema: Schema }>,
  parameters: unknown[] = [],
) {
  const object = ref(schemaNameOf(r.group, r.kind));
  return {
    tags: [`${r.group || 'core'}_${r.version}`],
    description: `${verb} the specified ${r.kind}`,
    operationId: `${verb}${r.namespaced ? 'Namespaced' : ''}${r.kind}`,
    parameters,
    ...(body ? { requestBody: { content: body, required: true } } : {}),
    responses: {
      '200': { description: 'OK', content: { 'application/json': { schema: object } } },
      '401': { description: 'Unauthorized' },
    },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
  };
}

function paths(r: LabResource): Record<string, unknown> {
  const base = `/${r.group === '' ? 'api' : `apis/${r.group}`}/${r.version}${r.namespaced ? '/namespaces/{namespace}' : ''}/${r.name}`;
  const object = { 'application/json': { schema: ref(schemaNameOf(r.group, r.kind)) } };
  const patchBodies = Object.fromEntries(
    [...(r.patchTypes ?? []), 'apply' as const].map((t) => [
      PATCH_CONTENT_TYPES[t],
      { schema: ref('io.k8s.apimachinery.pkg.apis.meta.v1.Patch') },
    ]),
  );
  const scope = r.namespaced
    ? [pathParam('namespace', 'object name and auth scope, such as for teams and projects')]
    : [];
  return {
    [base]: {
      get: operation(r, 'list', 'list'),
      post: operation(r, 'post', 'create', object, [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]),
      parameters: [...scope, PRETTY],
    },
    [`${base}/{name}`]: {
      get: operation(r, 'get', 'read'),
      put: operation(r, 'put', 'replace', object, [DRY_RUN, FIELD_MANAGER, FIELD_VALIDATION]),
      patch: operation(r, 'patch', 'patch', patchBodies, [
        DRY_RUN,
        FIELD_MANAGER,
        FIELD_VALIDATION,
        query('force', 'Force is going to "force" Apply requests.'),
      ]),
      delete: operation(r, 'delete', 'delete', undefined, [DRY_RUN]),
      parameters: [pathParam('name', `name of the ${r.kind}`), ...scope, PRETTY],
    },
  };
}

/** GET /openapi/v3/<api|apis/group>/<version>, or undefined when the lab publishes none for it. */
export function openApiDocument(key: string): Record<string, unknown> | undefined {
  const resources = writable().filter((r) => indexKey(r) === key);
  if (resources.length === 0) return undefined;
  const schemas = Object.assign(
    {},
    ...resources.map((r) => schemaClosure(schemaNameOf(r.group, r.kind))),
    schemaClosure('io.k8s.apimachinery.pkg.apis.meta.v1.Patch'),
  );
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: LAB_KUBELET_VERSION },
    paths: Object.assign({}, ...resources.map(paths)),
    components: {
      schemas,
      securitySchemes: {
        BearerToken: {
          type: 'apiKey',
          description: 'Bearer Token authentication',
          name: 'authorization',
          in: 'header',
        },
      },
    },
    security: [{ BearerToken: [] }],
  };
}

/** GET /openapi/v3: each document's URL carries a hash of its content, as the real index does (clients cache by it). */
export function openApiIndex(): { paths: Record<string, { serverRelativeURL: string }> } {
  const keys = [...new Set(writable().map(indexKey))];
  return {
    paths: Object.fromEntries(
      keys.map((key) => {
        const hash = createHash('sha512')
          .update(JSON.stringify(openApiDocument(key)))
          .digest('hex')
          .toUpperCase()
          .slice(0, 128);
        return [key, { serverRelativeURL: `/openapi/v3/${key}?hash=${hash}` }];
      }),
    ),
  };
}

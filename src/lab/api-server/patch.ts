/**
 * The three PATCH bodies the Kubernetes API server applies, pure: JSON patch (RFC 6902, via fast-json-patch), JSON
 * merge patch (RFC 7396) and strategic merge patch (k8s.io/apimachinery pkg/util/strategicpatch) for the lists that
 * have a patch strategy in the types the lab serves. Each returns a new document and never changes its input; a
 * malformed patch throws PatchError, which the router answers as the API server does (400 or 422).
 */
import jsonpatch from 'fast-json-patch';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export class PatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PatchError';
  }
}

export const PATCH_CONTENT_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  /** Server-side apply; the lab does not implement it (kubectl apply --server-side). */
  apply: 'application/apply-patch+yaml',
} as const;

export type PatchType = keyof typeof PATCH_CONTENT_TYPES;

/** The patch type of a Content-Type header (parameters such as charset ignored), or null. */
export function patchTypeOf(contentType: string | undefined): PatchType | null {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const found = Object.entries(PATCH_CONTENT_TYPES).find(([, v]) => v === media);
  return found ? (found[0] as PatchType) : null;
}

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function clone<T extends Json>(v: T): T {
  return structuredClone(v);
}

/** RFC 7396: objects merge recursively, null deletes, everything else (arrays too) replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isObject(patch)) return clone(patch);
  const out: JsonObject = isObject(target) ? clone(target) : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = applyMergePatch(out[key] ?? null, value);
  }
  return out;
}

/** RFC 6902 operations (add, remove, replace, move, copy, test); a failed `test` or a bad path throws PatchError. */
export function applyJsonPatch(target: Json, patch: Json): Json {
  if (!Array.isArray(patch))
    throw new PatchError('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  const errors = jsonpatch.validate(patch as unknown as jsonpatch.Operation[], clone(target));
  if (errors) throw new PatchError(errors.message.split('\n')[0]!);
  try {
    return jsonpatch.applyPatch(clone(target), patch as unknown as jsonpatch.Operation[], true, false)
      .newDocument as Json;
  } catch (err) {
    throw new PatchError(err instanceof Error ? err.message.split('\n')[0]! : String(err));
  }
}

/**
 * How a list field merges under a strategic merge patch, by its dotted path without indexes ("metadata.finalizers"):
 * a merge key for lists of objects, 'primitive' for sets of scalars, undefined for lists that are replaced whole.
 */
export type MergeStrategyOf = (path: string) => string | 'primitive' | undefined;

/**
 * The patch strategies of ObjectMeta (types.go: finalizers patchStrategy=merge, ownerReferences patchMergeKey=uid).
 * networking.k8s.io/v1 NetworkPolicySpec has none: ingress, egress, policyTypes and every list inside them are atomic.
 */
export const OBJECT_META_MERGE_STRATEGY: MergeStrategyOf = (path) => {
  if (path === 'metadata.finalizers') return 'primitive';
  if (path === 'metadata.ownerReferences') return 'uid';
  return undefined;
};

const DIRECTIVE = '$patch';
const RETAIN_KEYS = '$retainKeys';
const SET_ELEMENT_ORDER = '$setElementOrder/';
const DELETE_FROM_PRIMITIVE_LIST = '$deleteFromPrimitiveList/';

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function mergeList(path: string, original: Json | undefined, patch: Json[], strategy: MergeStrategyOf): Json[] {
  const how = strategy(path);
  if (patch.some((e) => isObject(e) && e[DIRECTIVE] === 'replace'))
    return patch.filter((e) => !(isObject(e) && e[DIRECTIVE] === 'replace')).map((e) => clone(e));
  if (how === undefined || !Array.isArray(original))
    return patch.filter((e) => !(isObject(e) && DIRECTIVE in e)).map((e) => clone(e));
  if (how === 'primitive') {
    const out = clone(original);
    for (const e of patch) if (!out.some((o) => o === e)) out.push(clone(e));
    return out;
  }
  const out = clone(original);
  for (const e of patch) {
    if (!isObject(e)) throw new PatchError(`${path}: list items must be objects to merge on ${how}`);
    const key = e[how];
    if (key === undefined)
      throw new PatchError(`map: ${JSON.stringify(e)} does not contain declared merge key: ${how}`);
    const i = out.findIndex((o) => isObject(o) && o[how] === key);
    if (e[DIRECTIVE] === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = mergeMap(path, out[i] as JsonObject, e, strategy);
    else out.push(mergeMap(path, {}, e, strategy));
  }
  return out;
}

function mergeMap(path: string, original: JsonObject, patch: JsonObject, strategy: MergeStrategyOf): JsonObject {
  const directive = patch[DIRECTIVE];
  if (directive !== undefined && directive !== 'replace' && directive !== 'merge' && directive !== 'delete') {
    throw new PatchError(`Unknown patch type: ${String(directive)} in map: ${JSON.stringify(patch)}`);
  }
  const rest = Object.fromEntries(Object.entries(patch).filter(([k]) => k !== DIRECTIVE));
  if (directive === 'replace') return stripDirectives(rest);
  let out: JsonObject = clone(original);
  const retain = patch[RETAIN_KEYS];
  if (retain !== undefined) {
    if (!Array.isArray(retain)) throw new PatchError('$retainKeys must be a list');
    out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  }
  for (const [key, value] of Object.entries(rest)) {
    if (key === RETAIN_KEYS || key.startsWith(SET_ELEMENT_ORDER)) continue; // ordering hints: the lab keeps server order
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      const field = key.slice(DELETE_FROM_PRIMITIVE_LIST.length);
      const current = out[field];
      if (Array.isArray(current) && Array.isArray(value)) out[field] = current.filter((e) => !value.includes(e));
      continue;
    }
    const childPath = join(path, key);
    if (value === null) delete out[key];
    else if (isObject(value) && value[DIRECTIVE] === 'delete') delete out[key];
    else if (isObject(value))
      out[key] = mergeMap(childPath, isObject(out[key]) ? (out[key] as JsonObject) : {}, value, strategy);
    else if (Array.isArray(value)) out[key] = mergeList(childPath, out[key], value, strategy);
    else out[key] = value;
  }
  return out;
}

function stripDirectives(v: JsonObject): JsonObject {
  return Object.fromEntries(
    Object.entries(v)
      .filter(
        ([k]) =>
          k !== DIRECTIVE &&
          k !== RETAIN_KEYS &&
          !k.startsWith(SET_ELEMENT_ORDER) &&
          !k.startsWith(DELETE_FROM_PRIMITIVE_LIST),
      )
      .map(([k, e]) => [k, isObject(e) ? stripDirectives(e) : clone(e)]),
  );
}

/** Strategic merge patch: a merge patch whose lists follow `strategy`, plus the $patch, $retainKeys,
 * $setElementOrder and $deleteFromPrimitiveList directives kubectl apply sends. */
export function applyStrategicMergePatch(
  target: Json,
  patch: Json,
  strategy: MergeStrategyOf = OBJECT_META_MERGE_STRATEGY,
): Json {
  if (!isObject(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  return mergeMap('', isObject(target) ? target : {}, patch, strategy);
}

export function applyPatch(
  type: Exclude<PatchType, 'apply'>,
  target: Json,
  patch: Json,
  strategy?: MergeStrategyOf,
): Json {
  switch (type) {
    case 'json':
      return applyJsonPatch(target, patch);
    case 'merge':
      return applyMergePatch(target, patch);
    case 'strategic':
      return applyStrategicMergePatch(target, patch, strategy);
  }
}

/**
 * Write validation for the policy kinds, as the API server does it: structural checks against the published
 * OpenAPI schema (wrong types, missing required fields, values outside an enum → 422 Invalid with causes; unknown
 * fields dropped, reported by fieldValidation=Warn and refused by fieldValidation=Strict, kubectl's default), object
 * metadata (name required and a DNS-1123 subdomain), and the defaults the server fills in. Semantically odd but
 * well-formed policies (an empty podSelector, a rule that allows nothing, overlapping CIDRs) pass untouched: the
 * policy evaluator must see them as a cluster would store them. Pure.
 */
import type { Json } from './patch.ts';
import { POLICY_SCHEMAS, type Schema } from './policy-schemas.ts';

export interface FieldCause {
  reason:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueTypeInvalid'
    | 'FieldValueNotSupported'
    | 'FieldValueTooLong';
  message: string;
  field: string;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

/** kubectl sends Strict by default (--validate=true); the server's own default for a request without it is Warn. */
export function fieldValidationOf(value: string | null): FieldValidation | null {
  if (value === null || value === '') return 'Warn';
  return value === 'Strict' || value === 'Warn' || value === 'Ignore' ? value : null;
}

export interface SchemaCheck {
  /** The value with unknown fields and nulls removed (what the server would store). */
  value: Json;
  causes: FieldCause[];
  /** Dotted paths of fields the schema does not know. */
  unknownFields: string[];
}

type JsonObject = { [key: string]: Json };

function isObject(v: unknown): v is JsonObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function resolve(schema: Schema): Schema {
  let s = schema;
  for (let i = 0; i < 10; i += 1) {
    const target = s.$ref ?? (s.allOf?.length === 1 ? s.allOf[0]!.$ref : undefined);
    if (target === undefined) return s;
    const found = POLICY_SCHEMAS[target.replace('#/components/schemas/', '')];
    if (!found) throw new Error(`unknown schema ${target}`);
    s = found;
  }
  throw new Error('schema $ref chain too deep');
}

function typeName(v: Json): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function shown(v: Json): string {
  return typeof v === 'string' ? JSON.stringify(v) : isObject(v) || Array.isArray(v) ? `"${typeName(v)}"` : String(v);
}

function typeMismatch(field: string, v: Json, expected: string): FieldCause {
  return {
    reason: 'FieldValueTypeInvalid',
    field,
    message: `Invalid value: ${shown(v)}: ${field} in body must be of type ${expected}: "${typeName(v)}"`,
  };
}

function walk(schema: Schema, v: Json, path: string, out: SchemaCheck): Json {
  const s = resolve(schema);
  if (s['x-kubernetes-preserve-unknown-fields']) return v;
  if (s['x-kubernetes-int-or-string']) {
    if (typeof v === 'string' || (typeof v === 'number' && Number.isInteger(v))) return v;
    out.causes.push(typeMismatch(path, v, 'integer,string'));
    return v;
  }
  switch (s.type) {
    case 'object': {
      if (!isObject(v)) {
        out.causes.push(typeMismatch(path, v, 'object'));
        return v;
      }
      const result: JsonObject = {};
      for (const [key, child] of Object.entries(v)) {
        const childPath = path === '' ? key : `${path}.${key}`;
        if (child === null) continue; // JSON null is "not set" for every optional field
        const childSchema = s.properties?.[key] ?? s.additionalProperties;
        if (childSchema === undefined && s.properties !== undefined) out.unknownFields.push(childPath);
        else result[key] = childSchema === undefined ? child : walk(childSchema, child, childPath, out);
      }
      for (const key of s.required ?? []) {
        if (!(key in result))
          out.causes.push({
            reason: 'FieldValueRequired',
            field: path === '' ? key : `${path}.${key}`,
            message: 'Required value',
          });
      }
      return result;
    }
    case 'array':
      if (!Array.isArray(v)) {
        out.causes.push(typeMismatch(path, v, 'array'));
        return v;
      }
      return s.items ? v.map((e, i) => walk(s.items!, e, `${path}[${i}]`, out)) : v;
    case 'string':
      if (typeof v !== 'string') out.causes.push(typeMismatch(path, v, 'string'));
      else if (s.enum && !s.enum.includes(v)) {
        out.causes.push({
          reason: 'FieldValueNotSupported',
          field: path,
          message: `Unsupported value: ${JSON.stringify(v)}: supported values: ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`,
        });
      }
      return v;
    case 'integer':
      if (typeof v !== 'number' || !Number.isInteger(v)) out.causes.push(typeMismatch(path, v, 'integer'));
      return v;
    case 'number':
      if (typeof v !== 'number') out.causes.push(typeMismatch(path, v, 'number'));
      return v;
    case 'boolean':
      if (typeof v !== 'boolean') out.causes.push(typeMismatch(path, v, 'boolean'));
      return v;
    default:
      return v;
  }
}

/** Checks `value` against the named component of POLICY_SCHEMAS. */
export function checkAgainstSchema(schemaName: string, value: Json): SchemaCheck {
  const schema = POLICY_SCHEMAS[schemaName];
  if (!schema) throw new Error(`unknown schema ${schemaName}`);
  const out: SchemaCheck = { value: null, causes: [], unknownFields: [] };
  out.value = walk(schema, value, '', out);
  return out;
}

/** DNS-1123 subdomain (k8s.io/apimachinery pkg/util/validation IsDNS1123Subdomain): object names of every policy kind. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** IsDNS1123Subdomain's length limit (DNS1123SubdomainMaxLength). */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;

/** metadata.name as ValidateObjectMeta checks it (with NameIsDNSSubdomain). */
export function validateObjectName(name: unknown, generateName: unknown): FieldCause[] {
  if ((name === undefined || name === '') && (generateName === undefined || generateName === '')) {
    return [
      {
        reason: 'FieldValueRequired',
        field: 'metadata.name',
        message: 'Required value: name or generateName is required',
      },
    ];
  }
  if (name === undefined || name === '') return [];
  if (typeof name !== 'string') return [typeMismatch('metadata.name', name as Json, 'string')];
  const causes: FieldCause[] = [];
  if (name.length > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: ${JSON.stringify(name)}: must be no more than ${DNS1123_SUBDOMAIN_MAX_LENGTH} characters`,
    });
  }
  if (!DNS1123_SUBDOMAIN.test(name)) {
    causes.push({
      reason: 'FieldValueInvalid',
      field: 'metadata.name',
      message: `Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
    });
  }
  return causes;
}

/**
 * networking/v1 defaults (pkg/apis/networking/v1/defaults.go): policyTypes [Ingress] (+ Egress when egress rules
 * exist) when absent, protocol TCP on every port, and the podSelector every decoded object has.
 */
export function defaultKubernetesNetworkPolicy(object: JsonObject): JsonObject {
  const spec: JsonObject = isObject(object.spec) ? { ...object.spec } : {};
  if (!isObject(spec.podSelector)) spec.podSelector = {};
  const rules = (key: 'ingress' | 'egress') => (Array.isArray(spec[key]) ? (spec[key] as Json[]) : []);
  const withTcp = (rule: Json): Json => {
    if (!isObject(rule) || !Array.isArray(rule.ports)) return rule;
    return {
      ...rule,
      ports: rule.ports.map((p) => (isObject(p) && p.protocol === undefined ? { ...p, protocol: 'TCP' } : p)),
    };
  };
  if (Array.isArray(spec.ingress)) spec.ingress = spec.ingress.map(withTcp);
  if (Array.isArray(spec.egress)) spec.egress = spec.egress.map(withTcp);
  if (!Array.isArray(spec.policyTypes) || spec.policyTypes.length === 0)
    spec.policyTypes = rules('egress').length > 0 ? ['Ingress', 'Egress'] : ['Ingress'];
  return { ...object, spec };
}

/**
 * What Calico's API server fills in on projectcalico.org/v3 writes (libcalico-go defaultPolicyTypesField, and the
 * default tier). crd.projectcalico.org/v1 writes go straight to the CRD store and get no defaults.
 */
export function defaultCalicoV3Policy(object: JsonObject): JsonObject {
  const spec: JsonObject = isObject(object.spec) ? { ...object.spec } : {};
  if (spec.tier === undefined) spec.tier = 'default';
  const has = (key: string) => Array.isArray(spec[key]) && (spec[key] as Json[]).length > 0;
  if (!Array.isArray(spec.types) || spec.types.length === 0) {
    spec.types = !has('egress') ? ['Ingress'] : !has('ingress') ? ['Egress'] : ['Ingress', 'Egress'];
  }
  return { ...object, spec };
}

/**
 * Kubernetes LabelSelector (metav1.LabelSelector): validated from raw API JSON and compiled into the Calico
 * selector AST the way Calico converts it (k8sSelectorToCalico in projectcalico/calico
 * libcalico-go/lib/backend/k8s/conversion/conversion.go), so one evaluator serves both kinds of policy.
 *
 * Semantics (k8s.io/apimachinery LabelSelectorAsSelector): `{}` matches everything; matchLabels and every
 * matchExpression are ANDed; In needs the label present with one of the values, NotIn matches when the label
 * is absent or has none of the values, Exists / DoesNotExist test presence. A null/absent selector is not
 * handled here: what it means depends on the field (absent podSelector in a peer = every pod), so callers decide.
 */
import { InvalidInputError } from '../errors.ts';
import { selectorFromNode, type CalicoSelector, type SelectorNode } from './calico-selector.ts';
import { LABEL_VALUE_MAX_LENGTH, LIST_MAX, QUALIFIED_KEY_MAX_LENGTH } from './limits.ts';

export type LabelSelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: LabelSelectorOperator;
  values: string[];
}

export interface LabelSelector {
  matchLabels: Record<string, string>;
  matchExpressions: LabelSelectorRequirement[];
}

/** prefix/name as Kubernetes validates a qualified label key (IsQualifiedName). */
const QUALIFIED_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** IsValidLabelValue: empty, or 63 characters of alphanumerics, '-', '_', '.' starting and ending alphanumeric. */
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function validateKey(field: string, key: unknown): string {
  if (typeof key !== 'string' || key.length === 0)
    throw new InvalidInputError(field, 'a label key must be a non-empty string');
  if (key.length > QUALIFIED_KEY_MAX_LENGTH || !QUALIFIED_KEY.test(key)) {
    throw new InvalidInputError(field, `${JSON.stringify(key.slice(0, 40))} is not a valid label key`);
  }
  return key;
}

function validateValue(field: string, value: unknown): string {
  if (typeof value !== 'string')
    throw new InvalidInputError(field, `a label value must be a string, not ${value === null ? 'null' : typeof value}`);
  if (value.length > LABEL_VALUE_MAX_LENGTH || !LABEL_VALUE.test(value)) {
    throw new InvalidInputError(field, `${JSON.stringify(value.slice(0, 40))} is not a valid label value`);
  }
  return value;
}

/** Validates a raw LabelSelector; throws InvalidInputError naming `field` and what is wrong. */
export function parseLabelSelector(raw: unknown, field: string): LabelSelector {
  if (!isPlainObject(raw))
    throw new InvalidInputError(
      field,
      `must be an object, not ${Array.isArray(raw) ? 'an array' : raw === null ? 'null' : typeof raw}`,
    );
  const matchLabels: Record<string, string> = {};
  if (raw.matchLabels !== undefined && raw.matchLabels !== null) {
    if (!isPlainObject(raw.matchLabels))
      throw new InvalidInputError(`${field}.matchLabels`, 'must be an object of key: value');
    const entries = Object.entries(raw.matchLabels);
    if (entries.length > LIST_MAX)
      throw new InvalidInputError(`${field}.matchLabels`, `has more than ${LIST_MAX} entries`);
    for (const [k, v] of entries)
      matchLabels[validateKey(`${field}.matchLabels`, k)] = validateValue(`${field}.matchLabels.${k}`, v);
  }
  const matchExpressions: LabelSelectorRequirement[] = [];
  if (raw.matchExpressions !== undefined && raw.matchExpressions !== null) {
    if (!Array.isArray(raw.matchExpressions))
      throw new InvalidInputError(`${field}.matchExpressions`, 'must be a list');
    if (raw.matchExpressions.length > LIST_MAX)
      throw new InvalidInputError(`${field}.matchExpressions`, `has more than ${LIST_MAX} entries`);
    raw.matchExpressions.forEach((e: unknown, i) => {
      const f = `${field}.matchExpressions[${i}]`;
      if (!isPlainObject(e)) throw new InvalidInputError(f, 'must be an object');
      const key = validateKey(`${f}.key`, e.key);
      const operator = e.operator;
      if (operator !== 'In' && operator !== 'NotIn' && operator !== 'Exists' && operator !== 'DoesNotExist') {
        throw new InvalidInputError(
          `${f}.operator`,
          `${JSON.stringify(String(operator).slice(0, 40))} is not one of In, NotIn, Exists, DoesNotExist`,
        );
      }
      const rawValues = e.values ?? [];
      if (!Array.isArray(rawValues)) throw new InvalidInputError(`${f}.values`, 'must be a list');
      if (rawValues.length > LIST_MAX) throw new InvalidInputError(`${f}.values`, `has more than ${LIST_MAX} entries`);
      const values = rawValues.map((v: unknown) => validateValue(`${f}.values`, v));
      // The API server refuses these (ValidateLabelSelectorRequirement); a stored object that has them is hostile.
      if ((operator === 'In' || operator === 'NotIn') && values.length === 0)
        throw new InvalidInputError(`${f}.values`, `must not be empty for ${operator}`);
      if ((operator === 'Exists' || operator === 'DoesNotExist') && values.length > 0)
        throw new InvalidInputError(`${f}.values`, `must be empty for ${operator}`);
      matchExpressions.push({ key, operator, values });
    });
  }
  return { matchLabels, matchExpressions };
}

export const isEmptyLabelSelector = (s: LabelSelector): boolean =>
  Object.keys(s.matchLabels).length === 0 && s.matchExpressions.length === 0;

const quote = (v: string) => `'${v}'`;

/** The Calico selector Calico generates for this LabelSelector; `extra` terms are ANDed first (e.g. orchestrator). */
export function labelSelectorToCalico(s: LabelSelector, extra: { key: string; value: string }[] = []): CalicoSelector {
  const nodes: SelectorNode[] = [];
  const text: string[] = [];
  for (const { key, value } of extra) {
    nodes.push({ op: 'eq', key, value });
    text.push(`${key} == ${quote(value)}`);
  }
  for (const key of Object.keys(s.matchLabels).sort()) {
    const value = s.matchLabels[key]!;
    nodes.push({ op: 'eq', key, value });
    text.push(`${key} == ${quote(value)}`);
  }
  for (const e of s.matchExpressions) {
    const list = `{ ${e.values.map(quote).join(', ')} }`;
    switch (e.operator) {
      case 'In':
        nodes.push({ op: 'in', key: e.key, values: new Set(e.values) });
        text.push(`${e.key} in ${list}`);
        break;
      case 'NotIn':
        nodes.push({ op: 'notIn', key: e.key, values: new Set(e.values) });
        text.push(`${e.key} not in ${list}`);
        break;
      case 'Exists':
        nodes.push({ op: 'has', key: e.key });
        text.push(`has(${e.key})`);
        break;
      case 'DoesNotExist':
        nodes.push({ op: 'not', node: { op: 'has', key: e.key } });
        text.push(`! has(${e.key})`);
        break;
    }
  }
  if (nodes.length === 0) return selectorFromNode({ op: 'all' }, 'all()');
  return selectorFromNode(nodes.length === 1 ? nodes[0]! : { op: 'and', nodes }, text.join(' && '));
}

/** Plain words for a LabelSelector: "app=web, tier in (a, b)", or "all" for `{}`. */
export function describeLabelSelector(s: LabelSelector): string {
  const parts = Object.keys(s.matchLabels)
    .sort()
    .map((k) => `${k}=${s.matchLabels[k]}`);
  for (const e of s.matchExpressions) {
    if (e.operator === 'In') parts.push(`${e.key} in (${e.values.join(', ')})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} not in (${e.values.join(', ')})`);
    else if (e.operator === 'Exists') parts.push(`has ${e.key}`);
    else parts.push(`no ${e.key}`);
  }
  return parts.length === 0 ? 'all' : parts.join(', ');
}

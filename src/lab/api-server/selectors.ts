/**
 * Label and field selectors as the API server parses them (k8s.io/apimachinery pkg/labels and pkg/fields):
 * `a=b,c!=d,e in (x,y),f notin (z),g,!h` for labels; `a=b,c==d,e!=f` for fields. Pure; a malformed selector is a
 * SelectorError whose message the server returns in a 400 BadRequest Status.
 */

export class SelectorError extends Error {
  override readonly name = 'SelectorError';
}

export type LabelRequirement =
  { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | 'doesnotexist' };

export interface FieldRequirement {
  field: string;
  op: 'eq' | 'neq';
  value: string;
}

/** A label key: optional DNS-subdomain prefix, then a name of at most 63 characters (apimachinery validation). */
const LABEL_KEY =
  /^(?:(?<prefix>[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*)\/)?(?<name>[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
/** One requirement: `!key`, `key`, `key op value`, or `key in|notin (values)`. */
const SET_REQUIREMENT = /^(?<key>\S+)\s+(?<op>in|notin)\s*\((?<values>[^()]*)\)$/;
const EQUALITY_REQUIREMENT = /^(?<key>[^=!\s]+)\s*(?<op>==|=|!=)\s*(?<value>[^=!\s]*)$/;
const EXISTS_REQUIREMENT = /^(?<not>!)?\s*(?<key>[^=!\s(),]+)$/;
const FIELD_REQUIREMENT = /^(?<field>[^=!]+?)(?<op>==|=|!=)(?<value>.*)$/;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '(') depth += 1;
    if (ch === ')') depth -= 1;
    if (depth < 0) throw new SelectorError(`unable to parse requirement: unexpected ')' in ${JSON.stringify(text)}`);
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (depth !== 0) throw new SelectorError(`unable to parse requirement: unclosed '(' in ${JSON.stringify(text)}`);
  parts.push(current);
  return parts.map((p) => p.trim());
}

function checkKey(key: string): string {
  if (!LABEL_KEY.test(key))
    throw new SelectorError(
      `unable to parse requirement: invalid label key ${JSON.stringify(key)}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
    );
  return key;
}

function checkValue(value: string): string {
  if (!LABEL_VALUE.test(value))
    throw new SelectorError(
      `unable to parse requirement: invalid label value ${JSON.stringify(value)}: must be 63 characters or less and consist of alphanumeric characters, '-', '_' or '.'`,
    );
  return value;
}

export function parseLabelSelector(text: string): LabelRequirement[] {
  if (text.trim() === '') return [];
  return splitTopLevel(text).map((part): LabelRequirement => {
    if (part === '')
      throw new SelectorError(`unable to parse requirement: found '', expected: identifier in ${JSON.stringify(text)}`);
    const set = SET_REQUIREMENT.exec(part)?.groups;
    if (set) {
      const values = set.values!.split(',').map((v) => checkValue(v.trim()));
      return { key: checkKey(set.key!), op: set.op as 'in' | 'notin', values };
    }
    const eq = EQUALITY_REQUIREMENT.exec(part)?.groups;
    if (eq) return { key: checkKey(eq.key!), op: eq.op === '!=' ? 'notin' : 'in', values: [checkValue(eq.value!)] };
    const exists = EXISTS_REQUIREMENT.exec(part)?.groups;
    if (exists) return { key: checkKey(exists.key!), op: exists.not ? 'doesnotexist' : 'exists' };
    throw new SelectorError(`unable to parse requirement: ${JSON.stringify(part)} is not a label requirement`);
  });
}

export function matchesLabels(requirements: LabelRequirement[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return requirements.every((r) => {
    const has = Object.hasOwn(l, r.key);
    switch (r.op) {
      case 'exists':
        return has;
      case 'doesnotexist':
        return !has;
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
    }
  });
}

/** Parses a field selector; `supported` are the field labels this resource allows (others are a 400, as upstream). */
export function parseFieldSelector(text: string, supported: readonly string[]): FieldRequirement[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = FIELD_REQUIREMENT.exec(part.trim())?.groups;
    if (!m) throw new SelectorError(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = m.field!.trim();
    if (!supported.includes(field)) throw new SelectorError(`field label not supported: ${field}`);
    return { field, op: m.op === '!=' ? 'neq' : 'eq', value: m.value!.trim() };
  });
}

/** Follows a dotted path (`spec.nodeName`) through a JSON object; non-strings read as '' (absent) or their JSON text. */
export function fieldValue(object: unknown, path: string): string {
  let v: unknown = object;
  for (const part of path.split('.')) {
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  }
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export function matchesFields(requirements: FieldRequirement[], object: unknown): boolean {
  return requirements.every((r) => (fieldValue(object, r.field) === r.value) === (r.op === 'eq'));
}

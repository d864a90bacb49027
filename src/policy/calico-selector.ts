/**
 * Calico's selector language, parsed the way libcalico-go does it (tokenizer + recursive descent:
 * projectcalico/calico libcalico-go/lib/selector/tokenizer/tokenizer.go and parser/parser.go), into an AST
 * that is evaluated with three-valued logic: a label whose value k8snet cannot know (a service account's
 * labels, a NetworkSet that was not read) makes the answer 'unknown' instead of a guess.
 *
 * Grammar (as Calico implements it):
 *   or   := and ('||' and)*
 *   and  := op ('&&' op)*
 *   op   := '!'* ( has(key) | all() | global() | '(' or ')' | key cmp )
 *   cmp  := '==' str | '!=' str | 'contains' str | 'starts with' str | 'ends with' str
 *         | 'in' '{' str (',' str)* '}' | 'not in' '{' … '}'
 *   key  := [A-Za-z0-9_./-]+     str := "…" | '…' (no escapes)     whitespace := space | tab
 * The empty selector means all().
 */
import { InvalidInputError } from '../errors.ts';
import { LABEL_KEY_MAX_LENGTH, SELECTOR_MAX_DEPTH, SELECTOR_MAX_LENGTH } from './limits.ts';

/** Three-valued truth: `'unknown'` when the answer depends on something k8snet does not know. */
export type Tri = boolean | 'unknown';

export const triNot = (a: Tri): Tri => (a === 'unknown' ? a : !a);
export function triAnd(a: Tri, b: Tri): Tri {
  if (a === false || b === false) return false;
  return a === 'unknown' || b === 'unknown' ? 'unknown' : true;
}
export function triOr(a: Tri, b: Tri): Tri {
  if (a === true || b === true) return true;
  return a === 'unknown' || b === 'unknown' ? 'unknown' : false;
}

/**
 * The labels a selector is evaluated against. `get` returns the value, `undefined` when the label is known to
 * be absent, or `null` when k8snet cannot know it. `global` is what `global()` evaluates to (true for
 * non-namespaced entities; Calico's own GlobalNode always evaluates true outside namespace selectors).
 */
export interface LabelView {
  get(key: string): string | undefined | null;
  readonly global: boolean;
}

export type SelectorNode =
  | { op: 'all' }
  | { op: 'global' }
  | { op: 'has'; key: string }
  | { op: 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith'; key: string; value: string }
  | { op: 'in' | 'notIn'; key: string; values: ReadonlySet<string> }
  | { op: 'not'; node: SelectorNode }
  | { op: 'and' | 'or'; nodes: SelectorNode[] };

export interface CalicoSelector {
  /** The selector text as written (or as Calico would write a converted Kubernetes selector). */
  readonly source: string;
  readonly root: SelectorNode;
  /** Every label key the selector reads, for "could this depend on an unknown label?" questions. */
  readonly keys: ReadonlySet<string>;
}

type Token =
  | { kind: 'label' | 'string' | 'has'; value: string }
  | {
      kind:
        | '('
        | ')'
        | '{'
        | '}'
        | ','
        | '=='
        | '!='
        | '!'
        | '&&'
        | '||'
        | 'in'
        | 'notIn'
        | 'contains'
        | 'startsWith'
        | 'endsWith'
        | 'all'
        | 'global'
        | 'eof';
    };

const IDENT_CHAR = /[A-Za-z0-9_./-]/;

function fail(field: string, message: string): never {
  throw new InvalidInputError(field, message);
}

function skipSpace(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  return i;
}

function readIdent(s: string, i: number, field: string): [string, number] {
  let j = i;
  while (j < s.length && IDENT_CHAR.test(s[j]!)) j++;
  if (j === i) fail(field, `expected a label name at position ${i} of the selector`);
  if (j - i > LABEL_KEY_MAX_LENGTH)
    fail(field, `a label name in the selector is longer than ${LABEL_KEY_MAX_LENGTH} characters`);
  return [s.slice(i, j), j];
}

/** Calico's word operators must end at a word boundary ("in" but not "inx"); "not in" may be "notin". */
function cutWords(s: string, i: number, words: string[]): number | null {
  let j = i;
  for (const w of words) {
    if (!s.startsWith(w, j)) return null;
    j = skipSpace(s, j + w.length);
  }
  // As Calico does, the boundary is checked on what follows the trimmed remainder ("in {" yes, "inx" no).
  if (j < s.length && IDENT_CHAR.test(s[j]!)) return null;
  return j;
}

export function tokenizeSelector(input: string, field = 'selector'): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  for (;;) {
    i = skipSpace(input, i);
    if (i >= input.length) {
      tokens.push({ kind: 'eof' });
      return tokens;
    }
    const c = input[i]!;
    const last = tokens[tokens.length - 1];
    if (c === '(' || c === ')' || c === '{' || c === '}' || c === ',') {
      tokens.push({ kind: c });
      i++;
    } else if (c === '"' || c === "'") {
      const end = input.indexOf(c, i + 1);
      if (end === -1) fail(field, 'unterminated string in the selector');
      tokens.push({ kind: 'string', value: input.slice(i + 1, end) });
      i = end + 1;
    } else if (c === '=') {
      if (input[i + 1] !== '=') fail(field, `expected == at position ${i} of the selector`);
      tokens.push({ kind: '==' });
      i += 2;
    } else if (c === '!') {
      if (input[i + 1] === '=') {
        tokens.push({ kind: '!=' });
        i += 2;
      } else {
        tokens.push({ kind: '!' });
        i++;
      }
    } else if (c === '&' || c === '|') {
      if (input[i + 1] !== c) fail(field, `expected ${c}${c} at position ${i} of the selector`);
      tokens.push({ kind: c === '&' ? '&&' : '||' });
      i += 2;
    } else if (last?.kind === 'label') {
      // After a label only a word operator can follow (== and != were handled above).
      let j: number | null;
      if ((j = cutWords(input, i, ['contains'])) !== null) tokens.push({ kind: 'contains' });
      else if ((j = cutWords(input, i, ['starts', 'with'])) !== null) tokens.push({ kind: 'startsWith' });
      else if ((j = cutWords(input, i, ['ends', 'with'])) !== null) tokens.push({ kind: 'endsWith' });
      else if ((j = cutWords(input, i, ['not', 'in'])) !== null) tokens.push({ kind: 'notIn' });
      else if ((j = cutWords(input, i, ['in'])) !== null) tokens.push({ kind: 'in' });
      else fail(field, `expected an operator after label ${JSON.stringify(last.value)}`);
      i = j;
    } else if (input.startsWith('has(', i)) {
      const [key, j] = readIdent(input, skipSpace(input, i + 4), field);
      const k = skipSpace(input, j);
      if (input[k] !== ')') fail(field, "no closing ')' after has(");
      tokens.push({ kind: 'has', value: key });
      i = k + 1;
    } else if (input.startsWith('all(', i) || input.startsWith('global(', i)) {
      const isAll = input.startsWith('all(', i);
      const k = skipSpace(input, i + (isAll ? 4 : 7));
      if (input[k] !== ')') fail(field, `no closing ')' after ${isAll ? 'all' : 'global'}(`);
      tokens.push({ kind: isAll ? 'all' : 'global' });
      i = k + 1;
    } else {
      const [key, j] = readIdent(input, i, field);
      tokens.push({ kind: 'label', value: key });
      i = j;
    }
  }
}

class Parser {
  private pos = 0;
  readonly keys = new Set<string>();
  private readonly tokens: Token[];
  private readonly field: string;
  constructor(tokens: Token[], field: string) {
    this.tokens = tokens;
    this.field = field;
  }

  private peek(): Token {
    return this.tokens[this.pos]!;
  }
  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.kind !== 'eof') this.pos++;
    return t;
  }

  parseRoot(): SelectorNode {
    if (this.peek().kind === 'eof') return { op: 'all' };
    const node = this.parseOr(0);
    if (this.peek().kind !== 'eof') fail(this.field, 'unexpected content at the end of the selector');
    return node;
  }

  private parseOr(depth: number): SelectorNode {
    const nodes = [this.parseAnd(depth)];
    while (this.peek().kind === '||') {
      this.next();
      nodes.push(this.parseAnd(depth));
    }
    return nodes.length === 1 ? nodes[0]! : { op: 'or', nodes };
  }

  private parseAnd(depth: number): SelectorNode {
    const nodes = [this.parseOp(depth)];
    while (this.peek().kind === '&&') {
      this.next();
      nodes.push(this.parseOp(depth));
    }
    return nodes.length === 1 ? nodes[0]! : { op: 'and', nodes };
  }

  private string(): string {
    const t = this.next();
    if (t.kind !== 'string') fail(this.field, 'expected a quoted string in the selector');
    return t.value;
  }

  private parseOp(depth: number): SelectorNode {
    if (depth > SELECTOR_MAX_DEPTH) fail(this.field, `the selector nests deeper than ${SELECTOR_MAX_DEPTH} levels`);
    let negated = false;
    while (this.peek().kind === '!') {
      this.next();
      negated = !negated;
    }
    const node = this.parseTerm(depth);
    return negated ? { op: 'not', node } : node;
  }

  private parseTerm(depth: number): SelectorNode {
    const t = this.next();
    switch (t.kind) {
      case 'has':
        this.keys.add(t.value);
        return { op: 'has', key: t.value };
      case 'all':
        return { op: 'all' };
      case 'global':
        return { op: 'global' };
      case '(': {
        const inner = this.parseOr(depth + 1);
        if (this.next().kind !== ')') fail(this.field, 'expected ) in the selector');
        return inner;
      }
      case 'label': {
        const key = t.value;
        this.keys.add(key);
        const op = this.next();
        switch (op.kind) {
          case '==':
            return { op: 'eq', key, value: this.string() };
          case '!=':
            return { op: 'ne', key, value: this.string() };
          case 'contains':
          case 'startsWith':
          case 'endsWith':
            return { op: op.kind, key, value: this.string() };
          case 'in':
          case 'notIn': {
            if (this.next().kind !== '{') fail(this.field, 'expected { after in');
            const values = new Set<string>();
            if (this.peek().kind === 'string') {
              values.add(this.string());
              while (this.peek().kind === ',') {
                this.next();
                values.add(this.string());
              }
            }
            if (this.next().kind !== '}') fail(this.field, 'expected } to close the set');
            return { op: op.kind, key, values };
          }
          default:
            return fail(this.field, `expected an operator after label ${JSON.stringify(key)}`);
        }
      }
      case 'eof':
        return fail(this.field, 'unexpected end of the selector');
      default:
        return fail(this.field, `unexpected ${JSON.stringify(t.kind)} in the selector`);
    }
  }
}

/** Parses a Calico selector; throws InvalidInputError (with `field`) on anything Calico would refuse. */
export function parseCalicoSelector(input: unknown, field = 'selector'): CalicoSelector {
  if (input === undefined || input === null) return { source: '', root: { op: 'all' }, keys: new Set() };
  if (typeof input !== 'string') fail(field, `is a ${typeof input}, not a selector string`);
  if (input.length > SELECTOR_MAX_LENGTH) fail(field, `is longer than ${SELECTOR_MAX_LENGTH} characters`);
  const parser = new Parser(tokenizeSelector(input, field), field);
  const root = parser.parseRoot();
  return { source: input, root, keys: parser.keys };
}

/** Builds a selector from an AST made elsewhere (a converted Kubernetes LabelSelector). */
export function selectorFromNode(root: SelectorNode, source: string): CalicoSelector {
  const keys = new Set<string>();
  const walk = (n: SelectorNode): void => {
    if ('key' in n) keys.add(n.key);
    if (n.op === 'not') walk(n.node);
    if (n.op === 'and' || n.op === 'or') n.nodes.forEach(walk);
  };
  walk(root);
  return { source, root, keys };
}

export function evaluateNode(node: SelectorNode, labels: LabelView): Tri {
  switch (node.op) {
    case 'all':
      return true;
    case 'global':
      return labels.global;
    case 'has': {
      const v = labels.get(node.key);
      return v === null ? 'unknown' : v !== undefined;
    }
    case 'not':
      return triNot(evaluateNode(node.node, labels));
    case 'and': {
      let acc: Tri = true;
      for (const n of node.nodes) {
        acc = triAnd(acc, evaluateNode(n, labels));
        if (acc === false) return false;
      }
      return acc;
    }
    case 'or': {
      let acc: Tri = false;
      for (const n of node.nodes) {
        acc = triOr(acc, evaluateNode(n, labels));
        if (acc === true) return true;
      }
      return acc;
    }
    default: {
      const v = labels.get(node.key);
      if (v === null) return 'unknown';
      // Calico: != and "not in" also match when the label is absent; every other comparison needs it present.
      if (v === undefined) return node.op === 'ne' || node.op === 'notIn';
      switch (node.op) {
        case 'eq':
          return v === node.value;
        case 'ne':
          return v !== node.value;
        case 'contains':
          return v.includes(node.value);
        case 'startsWith':
          return v.startsWith(node.value);
        case 'endsWith':
          return v.endsWith(node.value);
        case 'in':
          return node.values.has(v);
        case 'notIn':
          return !node.values.has(v);
      }
    }
  }
}

export const selectorMatches = (selector: CalicoSelector, labels: LabelView): Tri =>
  evaluateNode(selector.root, labels);

/** A LabelView over a plain label map, every other key known absent. */
export function plainLabels(labels: Readonly<Record<string, string>>, global = true): LabelView {
  return { get: (key) => (Object.hasOwn(labels, key) ? labels[key] : undefined), global };
}

/** True when the selector matches everything whatever the labels (all(), or the empty selector). */
export const isAllSelector = (s: CalicoSelector): boolean => s.root.op === 'all';

/**
 * Selector cases after Calico's own parser tests.
 * Source: github.com/projectcalico/calico libcalico-go/lib/selector/parser/parser_test.go (selector, labels,
 * expected match) and tokenizer/tokenizer.go for the operators' spelling.
 */
import { describe, expect, it } from '@jest/globals';
import {
  parseCalicoSelector,
  plainLabels,
  selectorMatches,
  SELECTOR_MAX_LENGTH,
  type LabelView,
} from '../../../src/policy/index.ts';

const m = (sel: string, labels: Record<string, string>) =>
  selectorMatches(parseCalicoSelector(sel), plainLabels(labels));

describe('Calico selector', () => {
  it.each([
    ['', {}, true],
    ['all()', { a: 'b' }, true],
    ["a == 'b'", { a: 'b' }, true],
    ['a == "b"', { a: 'c' }, false],
    ["a != 'b'", {}, true],
    ["a != 'b'", { a: 'b' }, false],
    ['has(a)', { a: '' }, true],
    ['!has(a)', { a: 'x' }, false],
    ['! has( a )', {}, true],
    ["a in {'x', 'y'}", { a: 'y' }, true],
    ["a in {'x'}", {}, false],
    ["a not in {'x'}", {}, true],
    ["a notin {'x'}", { a: 'x' }, false],
    ['a in {}', { a: 'x' }, false],
    ["a contains 'ell'", { a: 'hello' }, true],
    ["a starts with 'he'", { a: 'hello' }, true],
    ["a ends with 'lo'", { a: 'hello' }, true],
    ["a ends  with 'he'", { a: 'hello' }, false],
    ["a == 'b' && c == 'd' || e == 'f'", { e: 'f' }, true],
    ["a == 'b' && (c == 'd' || e == 'f')", { e: 'f' }, false],
    ["!(a == 'b')", { a: 'b' }, false],
    ['!!has(a)', { a: 'b' }, true],
    [
      "projectcalico.org/namespace == 'x' && app.kubernetes.io/name-x == 'y'",
      { 'projectcalico.org/namespace': 'x', 'app.kubernetes.io/name-x': 'y' },
      true,
    ],
    ['global()', {}, true],
  ])('%s on %j is %s', (sel, labels, expected) => {
    expect(m(sel, labels)).toBe(expected);
  });

  it.each(["a == 'b", 'a = "b"', 'a & b', 'has(a', "a in {'b'", 'a', "a == 'b' c", 'a inx {}', '&&', "a\n== 'b'"])(
    'refuses %j as Calico does',
    (sel) => {
      expect(() => parseCalicoSelector(sel)).toThrow();
    },
  );

  it('refuses selectors longer than the CRD limit and nesting deeper than the parser bound', () => {
    expect(() => parseCalicoSelector(`${'a == "b" || '.repeat(100)}a == "b"`)).toThrow(
      `longer than ${SELECTOR_MAX_LENGTH}`,
    );
    expect(() => parseCalicoSelector(`${'('.repeat(40)}all()${')'.repeat(40)}`)).toThrow('nests deeper');
    expect(() => parseCalicoSelector(42)).toThrow('not a selector string');
  });

  it('answers unknown only when the result depends on an unknown label', () => {
    const view: LabelView = { global: true, get: (k) => (k === 'known' ? 'v' : null) };
    expect(selectorMatches(parseCalicoSelector("known == 'v' && other == 'x'"), view)).toBe('unknown');
    expect(selectorMatches(parseCalicoSelector("known == 'w' && other == 'x'"), view)).toBe(false);
    expect(selectorMatches(parseCalicoSelector("known == 'v' || other == 'x'"), view)).toBe(true);
  });
});

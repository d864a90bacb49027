import { describe, expect, it } from '@jest/globals';
import {
  SelectorError,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
} from '../../../../src/lab/api-server/selectors.ts';

const dest = { type: 'dest', app: 'web' };
const matches = (selector: string, labels: Record<string, string> = dest) =>
  matchesLabels(parseLabelSelector(selector), labels);

describe('label selectors', () => {
  it('matches equality with =, == and !=', () => {
    expect(matches('type=dest')).toBe(true);
    expect(matches('type==dest')).toBe(true);
    expect(matches('type!=dest')).toBe(false);
    expect(matches('type!=src')).toBe(true);
    expect(matches('tier!=front')).toBe(true); // != matches objects without the key, as upstream
  });

  it('matches set-based in / notin and existence', () => {
    expect(matches('type in (src, dest)')).toBe(true);
    expect(matches('type notin (src,dest)')).toBe(false);
    expect(matches('tier notin (front)')).toBe(true);
    expect(matches('app')).toBe(true);
    expect(matches('!app')).toBe(false);
    expect(matches('!tier')).toBe(true);
  });

  it('requires every comma-separated requirement (commas inside parentheses are part of the set)', () => {
    expect(matches('type in (src,dest),app=web,!tier')).toBe(true);
    expect(matches('type in (src,dest),app=db')).toBe(false);
    expect(parseLabelSelector('a in (x,y),b')).toEqual([
      { key: 'a', op: 'in', values: ['x', 'y'] },
      { key: 'b', op: 'exists' },
    ]);
  });

  it('accepts prefixed keys and an empty selector', () => {
    expect(matches('kubernetes.io/service-name=svc', { 'kubernetes.io/service-name': 'svc' })).toBe(true);
    expect(matches('')).toBe(true);
  });

  it.each(['a in (b', 'a b', 'a=b=c', ',', 'a=b,', '-a=b', 'a=(b)'])(
    'rejects the malformed selector %j with a SelectorError',
    (selector) => {
      expect(() => parseLabelSelector(selector)).toThrow(SelectorError);
    },
  );
});

describe('field selectors', () => {
  const pod = {
    metadata: { name: 'pod-src', namespace: 'default' },
    spec: { nodeName: 'k8s-node2' },
    status: { phase: 'Running', podIP: '10.244.0.65' },
  };
  const supported = ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'status.phase', 'status.podIP'];
  const fieldMatch = (selector: string) => matchesFields(parseFieldSelector(selector, supported), pod);

  it('matches =, == and != on the supported fields', () => {
    expect(fieldMatch('spec.nodeName=k8s-node2')).toBe(true);
    expect(fieldMatch('spec.nodeName==k8s-node1')).toBe(false);
    expect(fieldMatch('status.phase!=Running')).toBe(false);
    expect(fieldMatch('status.podIP=10.244.0.65,metadata.namespace=default')).toBe(true);
    expect(fieldMatch('metadata.name!=pod-dest')).toBe(true);
  });

  it("refuses a field the resource does not index, with upstream's message", () => {
    expect(() => parseFieldSelector('spec.foo=1', supported)).toThrow('field label not supported: spec.foo');
    expect(() => parseFieldSelector('nonsense', supported)).toThrow(SelectorError);
  });
});

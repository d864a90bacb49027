import { describe, expect, it } from '@jest/globals';
import {
  applyJsonPatch,
  applyMergePatch,
  applyStrategicMergePatch,
  PatchError,
  patchTypeOf,
} from '../../../../src/lab/api-server/patch.ts';

const policy = {
  metadata: { name: 'p', annotations: { a: '1', b: '2' }, finalizers: ['x'] },
  spec: {
    podSelector: {},
    policyTypes: ['Ingress'],
    ingress: [{ from: [{ podSelector: { matchLabels: { type: 'src' } } }] }],
  },
};

describe('JSON merge patch (RFC 7396)', () => {
  it('merges objects, deletes keys set to null and replaces lists whole', () => {
    expect(applyMergePatch(policy, { metadata: { annotations: { a: null, c: '3' } }, spec: { ingress: [] } })).toEqual({
      metadata: { name: 'p', annotations: { b: '2', c: '3' }, finalizers: ['x'] },
      spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [] },
    });
  });

  it('leaves its input unchanged', () => {
    const before = JSON.stringify(policy);
    applyMergePatch(policy, { spec: null });
    expect(JSON.stringify(policy)).toBe(before);
  });
});

describe('JSON patch (RFC 6902)', () => {
  it('applies add, replace and remove by JSON pointer, escaping / as ~1', () => {
    const out = applyJsonPatch(policy, [
      { op: 'add', path: '/metadata/labels', value: { 'app.kubernetes.io/name': 'x' } },
      { op: 'replace', path: '/spec/policyTypes/0', value: 'Egress' },
      { op: 'remove', path: '/metadata/annotations/a' },
      { op: 'test', path: '/metadata/labels/app.kubernetes.io~1name', value: 'x' },
    ]);
    expect(out).toMatchObject({
      metadata: { labels: { 'app.kubernetes.io/name': 'x' }, annotations: { b: '2' } },
      spec: { policyTypes: ['Egress'] },
    });
  });

  it('refuses a failed test, a missing path and a body that is not a list of operations', () => {
    expect(() => applyJsonPatch(policy, [{ op: 'test', path: '/metadata/name', value: 'q' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(policy, [{ op: 'remove', path: '/spec/nope' }])).toThrow(PatchError);
    expect(() => applyJsonPatch(policy, { op: 'remove' })).toThrow(PatchError);
  });
});

describe('strategic merge patch', () => {
  it('replaces NetworkPolicy rule lists whole (they are atomic) and merges finalizers as a set', () => {
    const out = applyStrategicMergePatch(policy, {
      metadata: { finalizers: ['y', 'x'] },
      spec: { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] },
    });
    expect(out).toMatchObject({
      metadata: { finalizers: ['x', 'y'] },
      spec: { ingress: [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }] },
    });
  });

  it('follows the directives kubectl apply sends: $setElementOrder (hint only), $deleteFromPrimitiveList, $patch: replace/delete, $retainKeys', () => {
    expect(
      applyStrategicMergePatch(policy, {
        metadata: {
          '$setElementOrder/finalizers': ['x'],
          '$deleteFromPrimitiveList/finalizers': ['x'],
          annotations: { $patch: 'replace', z: '9' },
        },
        spec: { podSelector: { $patch: 'delete' }, $retainKeys: ['podSelector', 'policyTypes'] },
      }),
    ).toEqual({ metadata: { name: 'p', annotations: { z: '9' }, finalizers: [] }, spec: { policyTypes: ['Ingress'] } });
  });

  it('merges ownerReferences by uid and deletes one with $patch: delete', () => {
    const owned = {
      metadata: {
        ownerReferences: [
          { uid: 'a', name: 'one' },
          { uid: 'b', name: 'two' },
        ],
      },
    };
    expect(
      applyStrategicMergePatch(owned, {
        metadata: {
          ownerReferences: [
            { uid: 'a', name: 'uno' },
            { uid: 'b', $patch: 'delete' },
            { uid: 'c', name: 'three' },
          ],
        },
      }),
    ).toEqual({
      metadata: {
        ownerReferences: [
          { uid: 'a', name: 'uno' },
          { uid: 'c', name: 'three' },
        ],
      },
    });
  });

  it('refuses an unknown $patch directive', () => {
    expect(() => applyStrategicMergePatch(policy, { spec: { $patch: 'frobnicate' } })).toThrow(PatchError);
  });
});

describe('patch content types', () => {
  it('maps the three PATCH media types (and server-side apply) and ignores parameters', () => {
    expect(patchTypeOf('application/strategic-merge-patch+json')).toBe('strategic');
    expect(patchTypeOf('application/merge-patch+json; charset=utf-8')).toBe('merge');
    expect(patchTypeOf('application/json-patch+json')).toBe('json');
    expect(patchTypeOf('application/apply-patch+yaml')).toBe('apply');
    expect(patchTypeOf('application/json')).toBeNull();
  });
});

/**
 * OpenAPI v3 schemas of the policy kinds the lab API server stores, written from the upstream types:
 * networking.k8s.io/v1 NetworkPolicy (k8s.io/api networking/v1 types.go, as the API server publishes it under
 * /openapi/v3) and Calico's NetworkPolicy / GlobalNetworkPolicy (projectcalico api pkg/apis/projectcalico/v3
 * policy_common.go, networkpolicy.go, globalnetworkpolicy.go; the crd.projectcalico.org/v1 CRDs carry the same spec).
 * Built here, not downloaded. The same schemas drive /openapi/v3 (openapi.ts) and write validation (validation.ts).
 */

/** The subset of OpenAPI v3 schema objects these schemas use. */
export interface Schema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  format?: string;
  description?: string;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema;
  items?: Schema;
  required?: string[];
  enum?: string[];
  allOf?: Schema[];
  $ref?: string;
  default?: unknown;
  'x-kubernetes-int-or-string'?: true;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-map-type'?: 'atomic' | 'granular';
  'x-kubernetes-patch-strategy'?: string;
  'x-kubernetes-patch-merge-key'?: string;
  'x-kubernetes-preserve-unknown-fields'?: true;
  'x-kubernetes-group-version-kind'?: { group: string; version: string; kind: string }[];
}

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const NET = 'io.k8s.api.networking.v1';
/** Component name prefixes as the real servers publish them (CRDs: reversed group; Calico's API server: Go package). */
export const CALICO_CRD_PREFIX = 'org.projectcalico.crd.v1';
export const CALICO_V3_PREFIX = 'com.github.projectcalico.api.pkg.apis.projectcalico.v3';

export const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
/** Kubernetes publishes a field whose type is another component as allOf: [$ref] so it can carry its own description. */
const field = (name: string, description?: string): Schema => ({
  allOf: [ref(name)],
  ...(description ? { description } : {}),
});

const str: Schema = { type: 'string' };
const int32: Schema = { type: 'integer', format: 'int32' };
const int64: Schema = { type: 'integer', format: 'int64' };
const bool: Schema = { type: 'boolean' };
const strings: Schema = { type: 'array', items: str, 'x-kubernetes-list-type': 'atomic' };
const stringMap: Schema = { type: 'object', additionalProperties: str };
const intOrString: Schema = { 'x-kubernetes-int-or-string': true, format: 'int-or-string' };
const atomicList = (items: Schema): Schema => ({ type: 'array', items, 'x-kubernetes-list-type': 'atomic' });

const metaSchemas: Record<string, Schema> = {
  [`${META}.ObjectMeta`]: {
    type: 'object',
    properties: {
      annotations: stringMap,
      creationTimestamp: { ...str, format: 'date-time' },
      deletionGracePeriodSeconds: int64,
      deletionTimestamp: { ...str, format: 'date-time' },
      finalizers: {
        type: 'array',
        items: str,
        'x-kubernetes-list-type': 'set',
        'x-kubernetes-patch-strategy': 'merge',
      },
      generateName: str,
      generation: int64,
      labels: stringMap,
      managedFields: atomicList({ type: 'object', 'x-kubernetes-preserve-unknown-fields': true }),
      name: str,
      namespace: str,
      ownerReferences: {
        type: 'array',
        items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-patch-merge-key': 'uid',
        'x-kubernetes-patch-strategy': 'merge',
      },
      resourceVersion: str,
      selfLink: str,
      uid: str,
    },
  },
  [`${META}.ListMeta`]: {
    type: 'object',
    properties: { continue: str, remainingItemCount: int64, resourceVersion: str, selfLink: str },
  },
  [`${META}.LabelSelector`]: {
    type: 'object',
    properties: { matchExpressions: atomicList(field(`${META}.LabelSelectorRequirement`)), matchLabels: stringMap },
    'x-kubernetes-map-type': 'atomic',
  },
  [`${META}.LabelSelectorRequirement`]: {
    type: 'object',
    required: ['key', 'operator'],
    properties: { key: str, operator: str, values: strings },
  },
  [`${META}.Patch`]: {
    type: 'object',
    description: 'Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.',
  },
  [`${META}.Status`]: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
};

const gvk = (group: string, version: string, kind: string) => ({
  'x-kubernetes-group-version-kind': [{ group, version, kind }],
});

const kubeNetworkPolicySchemas: Record<string, Schema> = {
  [`${NET}.NetworkPolicy`]: {
    type: 'object',
    description: 'NetworkPolicy describes what network traffic is allowed for a set of Pods',
    properties: {
      apiVersion: str,
      kind: str,
      metadata: field(`${META}.ObjectMeta`),
      spec: field(`${NET}.NetworkPolicySpec`),
    },
    ...gvk('networking.k8s.io', 'v1', 'NetworkPolicy'),
  },
  [`${NET}.NetworkPolicyList`]: {
    type: 'object',
    required: ['items'],
    properties: {
      apiVersion: str,
      items: { type: 'array', items: field(`${NET}.NetworkPolicy`) },
      kind: str,
      metadata: field(`${META}.ListMeta`),
    },
    ...gvk('networking.k8s.io', 'v1', 'NetworkPolicyList'),
  },
  [`${NET}.NetworkPolicySpec`]: {
    type: 'object',
    properties: {
      egress: atomicList(field(`${NET}.NetworkPolicyEgressRule`)),
      ingress: atomicList(field(`${NET}.NetworkPolicyIngressRule`)),
      podSelector: field(`${META}.LabelSelector`),
      policyTypes: atomicList({ type: 'string', enum: ['Egress', 'Ingress'] }),
    },
  },
  [`${NET}.NetworkPolicyIngressRule`]: {
    type: 'object',
    properties: {
      from: atomicList(field(`${NET}.NetworkPolicyPeer`)),
      ports: atomicList(field(`${NET}.NetworkPolicyPort`)),
    },
  },
  [`${NET}.NetworkPolicyEgressRule`]: {
    type: 'object',
    properties: {
      ports: atomicList(field(`${NET}.NetworkPolicyPort`)),
      to: atomicList(field(`${NET}.NetworkPolicyPeer`)),
    },
  },
  [`${NET}.NetworkPolicyPeer`]: {
    type: 'object',
    properties: {
      ipBlock: field(`${NET}.IPBlock`),
      namespaceSelector: field(`${META}.LabelSelector`),
      podSelector: field(`${META}.LabelSelector`),
    },
  },
  [`${NET}.IPBlock`]: { type: 'object', required: ['cidr'], properties: { cidr: str, except: strings } },
  [`${NET}.NetworkPolicyPort`]: {
    type: 'object',
    properties: {
      endPort: int32,
      port: field('io.k8s.apimachinery.pkg.util.intstr.IntOrString'),
      protocol: { type: 'string', enum: ['SCTP', 'TCP', 'UDP'] },
    },
  },
  'io.k8s.apimachinery.pkg.util.intstr.IntOrString': { ...intOrString, type: 'string' },
};

/** Calico's Rule, EntityRule and the two policy specs under a prefix (the CRD and v3 schemas are the same shape). */
function calicoSchemas(prefix: string, group: string, version: string): Record<string, Schema> {
  const portList = atomicList(intOrString);
  const icmp: Schema = { type: 'object', properties: { code: { type: 'integer' }, type: { type: 'integer' } } };
  const entityRule: Schema = {
    type: 'object',
    properties: {
      namespaceSelector: str,
      nets: strings,
      notNets: strings,
      notPorts: portList,
      notSelector: str,
      ports: portList,
      selector: str,
      serviceAccounts: { type: 'object', properties: { names: strings, selector: str } },
      services: { type: 'object', properties: { name: str, namespace: str } },
    },
  };
  const rule: Schema = {
    type: 'object',
    required: ['action'],
    properties: {
      action: str,
      destination: field(`${prefix}.EntityRule`),
      http: {
        type: 'object',
        properties: {
          methods: strings,
          paths: atomicList({ type: 'object', properties: { exact: str, prefix: str } }),
        },
      },
      icmp,
      ipVersion: { type: 'integer' },
      metadata: { type: 'object', properties: { annotations: stringMap } },
      notICMP: icmp,
      notProtocol: intOrString,
      protocol: intOrString,
      source: field(`${prefix}.EntityRule`),
    },
  };
  const common = {
    egress: atomicList(field(`${prefix}.Rule`)),
    ingress: atomicList(field(`${prefix}.Rule`)),
    order: { type: 'number' },
    performanceHints: strings,
    selector: str,
    serviceAccountSelector: str,
    tier: str,
    types: strings,
  } satisfies Record<string, Schema>;
  const kind = (name: string, spec: string): Schema => ({
    type: 'object',
    properties: { apiVersion: str, kind: str, metadata: field(`${META}.ObjectMeta`), spec: field(`${prefix}.${spec}`) },
    ...gvk(group, version, name),
  });
  return {
    [`${prefix}.NetworkPolicy`]: kind('NetworkPolicy', 'NetworkPolicySpec'),
    [`${prefix}.GlobalNetworkPolicy`]: kind('GlobalNetworkPolicy', 'GlobalNetworkPolicySpec'),
    [`${prefix}.NetworkPolicySpec`]: { type: 'object', properties: common },
    [`${prefix}.GlobalNetworkPolicySpec`]: {
      type: 'object',
      properties: { ...common, applyOnForward: bool, doNotTrack: bool, namespaceSelector: str, preDNAT: bool },
    },
    [`${prefix}.Tier`]: kind('Tier', 'TierSpec'),
    // projectcalico api v3 TierSpec: order (nil = last) and, since Calico 3.30, the tier's default action.
    [`${prefix}.TierSpec`]: {
      type: 'object',
      properties: { order: { type: 'number' }, defaultAction: { type: 'string', enum: ['Deny', 'Pass'] } },
    },
    [`${prefix}.Rule`]: rule,
    [`${prefix}.EntityRule`]: entityRule,
  };
}

/** Every component the lab publishes, by name; the validator resolves $refs here. */
export const POLICY_SCHEMAS: Readonly<Record<string, Schema>> = {
  ...metaSchemas,
  ...kubeNetworkPolicySchemas,
  ...calicoSchemas(CALICO_CRD_PREFIX, 'crd.projectcalico.org', 'v1'),
  ...calicoSchemas(CALICO_V3_PREFIX, 'projectcalico.org', 'v3'),
};

/** The component that describes a kind in a group/version. */
export function schemaNameOf(group: string, kind: string): string {
  if (group === 'networking.k8s.io') return `${NET}.${kind}`;
  return `${group === 'projectcalico.org' ? CALICO_V3_PREFIX : CALICO_CRD_PREFIX}.${kind}`;
}

/** Components a document for one schema needs: itself and everything it references, transitively. */
export function schemaClosure(name: string): Record<string, Schema> {
  const out: Record<string, Schema> = {};
  const visit = (n: string) => {
    if (out[n] || !POLICY_SCHEMAS[n]) return;
    out[n] = POLICY_SCHEMAS[n];
    JSON.stringify(POLICY_SCHEMAS[n], (key, value: unknown) => {
      if (key === '$ref' && typeof value === 'string') visit(value.replace('#/components/schemas/', ''));
      return value;
    });
  };
  visit(name);
  return out;
}

const SERVER_ONLY_EXTENSIONS = [
  'x-kubernetes-group-version-kind',
  'x-kubernetes-patch-strategy',
  'x-kubernetes-patch-merge-key',
] as const;

/**
 * A component with every $ref inlined, as a CRD's openAPIV3Schema must be (structural, no references); metadata
 * becomes `type: object` as in every CRD, since the API server validates ObjectMeta itself.
 */
export function inlineSchema(name: string): Schema {
  const expand = (s: Schema, depth: number): Schema => {
    if (depth > 20) throw new Error('schema nesting too deep');
    const target = s.$ref ?? (s.allOf?.length === 1 ? s.allOf[0]!.$ref : undefined);
    if (target !== undefined) {
      const component = target.replace('#/components/schemas/', '');
      if (component === `${META}.ObjectMeta`) return { type: 'object' };
      return expand(
        { ...POLICY_SCHEMAS[component]!, ...(s.description ? { description: s.description } : {}) },
        depth + 1,
      );
    }
    const out: Schema = { ...s };
    for (const key of SERVER_ONLY_EXTENSIONS) delete out[key];
    if (s.properties)
      out.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, expand(v, depth + 1)]));
    if (s.items) out.items = expand(s.items, depth + 1);
    if (s.additionalProperties) out.additionalProperties = expand(s.additionalProperties, depth + 1);
    return out;
  };
  return expand(POLICY_SCHEMAS[name]!, 0);
}

/**
 * The resources the lab API server serves and the discovery documents that announce them (/api, /apis,
 * /api/v1, /apis/<group>/<version>), so kubectl's discovery, `kubectl api-resources` and client libraries find them.
 * Built resources (from the plan) support get and list; the policy kinds (a `family` in the policy store) also
 * create, update, patch and delete.
 */
import {
  CALICO_GROUP,
  CALICO_V3_GROUP,
  buildCalicoNode,
  buildEndpointSlices,
  buildEndpoints,
  buildIpPool,
  buildIpPoolCrd,
  buildPolicyCrds,
  buildNamespaces,
  buildNode,
  buildPod,
  buildService,
  type KubeObject,
  type ObjectContext,
} from './objects.ts';
import { TABLE_PRINTERS, type TablePrinter } from './table.ts';
import { buildSystemConfigMaps, buildSystemDaemonSets, buildSystemPods } from './system-objects.ts';
import type { PolicyFamily } from './policy-store.ts';
import type { PatchType } from './patch.ts';

export interface LabResource {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural, as in the URL. */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories: string[];
  /** Field labels a fieldSelector may use (pkg/registry/*\/strategy.go GetAttrs / AddFieldLabelConversionFunc). */
  fieldLabels: readonly string[];
  printer: TablePrinter;
  build(ctx: ObjectContext): KubeObject[];
  /** Writable: where the policy store keeps these objects. */
  family?: PolicyFamily;
  /** PATCH bodies accepted (built-in types also take strategic merge patch; custom resources do not). */
  patchTypes?: readonly Exclude<PatchType, 'apply'>[];
}

const READ_VERBS = ['get', 'list'];
const WRITE_VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update'];
const BUILT_IN_PATCH_TYPES = ['json', 'merge', 'strategic'] as const;
const CUSTOM_PATCH_TYPES = ['json', 'merge'] as const;

function ipPoolResource(group: string, version: string): LabResource {
  return {
    group,
    version,
    name: 'ippools',
    singularName: 'ippool',
    kind: 'IPPool',
    namespaced: false,
    shortNames: [],
    categories: [],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.default,
    build: (ctx) => {
      const apiVersion = `${group}/${version}`;
      return [
        buildIpPool(ctx, ctx.plan.ipPool, apiVersion),
        ...(ctx.plan.ipPoolV6 ? [buildIpPool(ctx, ctx.plan.ipPoolV6, apiVersion)] : []),
      ];
    },
  };
}

function calicoPolicyResources(
  group: string,
  version: string,
  shortNames: { namespaced: string[]; global: string[] },
): LabResource[] {
  return [
    {
      group,
      version,
      name: 'tiers',
      singularName: 'tier',
      kind: 'Tier',
      namespaced: false,
      shortNames: [],
      categories: [],
      fieldLabels: META_FIELDS,
      printer: TABLE_PRINTERS.default,
      build: (ctx) => ctx.policies?.list('calico-tier') ?? [],
      family: 'calico-tier',
      patchTypes: CUSTOM_PATCH_TYPES,
    },
    {
      group,
      version,
      name: 'globalnetworkpolicies',
      singularName: 'globalnetworkpolicy',
      kind: 'GlobalNetworkPolicy',
      namespaced: false,
      shortNames: shortNames.global,
      categories: [],
      fieldLabels: META_FIELDS,
      printer: TABLE_PRINTERS.default,
      build: (ctx) => ctx.policies?.list('calico-global') ?? [],
      family: 'calico-global',
      patchTypes: CUSTOM_PATCH_TYPES,
    },
    {
      group,
      version,
      name: 'networkpolicies',
      singularName: 'networkpolicy',
      kind: 'NetworkPolicy',
      namespaced: true,
      shortNames: shortNames.namespaced,
      categories: [],
      fieldLabels: META_FIELDS,
      printer: TABLE_PRINTERS.default,
      build: (ctx) => ctx.policies?.list('calico') ?? [],
      family: 'calico',
      patchTypes: CUSTOM_PATCH_TYPES,
    },
  ];
}
const META_FIELDS = ['metadata.name', 'metadata.namespace'] as const;

/** Namespaced v1 kinds served as empty lists (what a cluster holding none of them answers). */
function emptyKinds(
  kinds: { group: string; name: string; singularName: string; kind: string; shortNames: string[] }[],
): LabResource[] {
  return kinds.map((k) => ({
    ...k,
    version: 'v1',
    namespaced: true,
    categories: [],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.default,
    build: () => [],
  }));
}

export const LAB_RESOURCES: readonly LabResource[] = [
  {
    group: '',
    version: 'v1',
    name: 'namespaces',
    singularName: 'namespace',
    kind: 'Namespace',
    namespaced: false,
    shortNames: ['ns'],
    categories: [],
    fieldLabels: [...META_FIELDS, 'status.phase'],
    printer: TABLE_PRINTERS.namespaces,
    build: buildNamespaces,
  },
  {
    group: '',
    version: 'v1',
    name: 'nodes',
    singularName: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: ['no'],
    categories: [],
    fieldLabels: [...META_FIELDS, 'spec.unschedulable'],
    printer: TABLE_PRINTERS.nodes,
    build: (ctx) => ctx.plan.nodes.map((n) => buildNode(ctx, n)),
  },
  {
    group: '',
    version: 'v1',
    name: 'pods',
    singularName: 'pod',
    kind: 'Pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    fieldLabels: [
      ...META_FIELDS,
      'spec.nodeName',
      'spec.restartPolicy',
      'spec.schedulerName',
      'spec.serviceAccountName',
      'spec.hostNetwork',
      'status.phase',
      'status.podIP',
      'status.nominatedNodeName',
    ],
    printer: TABLE_PRINTERS.pods,
    build: (ctx) => [...ctx.plan.pods.map((p) => buildPod(ctx, p)), ...buildSystemPods(ctx)],
  },
  {
    group: '',
    version: 'v1',
    name: 'configmaps',
    singularName: 'configmap',
    kind: 'ConfigMap',
    namespaced: true,
    shortNames: ['cm'],
    categories: [],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.configmaps,
    build: buildSystemConfigMaps,
  },
  // `kubectl cluster-info dump` lists these in kube-system and default; the lab has none of them.
  ...emptyKinds([
    { group: '', name: 'events', singularName: 'event', kind: 'Event', shortNames: ['ev'] },
    {
      group: '',
      name: 'replicationcontrollers',
      singularName: 'replicationcontroller',
      kind: 'ReplicationController',
      shortNames: ['rc'],
    },
    { group: 'apps', name: 'deployments', singularName: 'deployment', kind: 'Deployment', shortNames: ['deploy'] },
    { group: 'apps', name: 'replicasets', singularName: 'replicaset', kind: 'ReplicaSet', shortNames: ['rs'] },
  ]),
  {
    group: 'apps',
    version: 'v1',
    name: 'daemonsets',
    singularName: 'daemonset',
    kind: 'DaemonSet',
    namespaced: true,
    shortNames: ['ds'],
    categories: ['all'],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.daemonsets,
    build: buildSystemDaemonSets,
  },
  {
    group: '',
    version: 'v1',
    name: 'services',
    singularName: 'service',
    kind: 'Service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    fieldLabels: [...META_FIELDS, 'spec.clusterIP', 'spec.type'],
    printer: TABLE_PRINTERS.services,
    build: (ctx) => ctx.plan.services.map((s) => buildService(ctx, s)),
  },
  {
    group: '',
    version: 'v1',
    name: 'endpoints',
    singularName: 'endpoints',
    kind: 'Endpoints',
    namespaced: true,
    shortNames: ['ep'],
    categories: [],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.endpoints,
    build: (ctx) => ctx.plan.services.map((s) => buildEndpoints(ctx, s)),
  },
  {
    group: 'discovery.k8s.io',
    version: 'v1',
    name: 'endpointslices',
    singularName: 'endpointslice',
    kind: 'EndpointSlice',
    namespaced: true,
    shortNames: [],
    categories: [],
    fieldLabels: [...META_FIELDS, 'addressType'],
    printer: TABLE_PRINTERS.endpointslices,
    build: (ctx) => ctx.plan.services.flatMap((s) => buildEndpointSlices(ctx, s)),
  },
  {
    group: 'networking.k8s.io',
    version: 'v1',
    name: 'networkpolicies',
    singularName: 'networkpolicy',
    kind: 'NetworkPolicy',
    namespaced: true,
    shortNames: ['netpol'],
    categories: [],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.networkpolicies,
    build: (ctx) => ctx.policies?.list('kubernetes') ?? [],
    family: 'kubernetes',
    patchTypes: BUILT_IN_PATCH_TYPES,
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    name: 'customresourcedefinitions',
    singularName: 'customresourcedefinition',
    kind: 'CustomResourceDefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    categories: ['api-extensions'],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.default,
    build: (ctx) => [buildIpPoolCrd(ctx), ...buildPolicyCrds(ctx)],
  },
  ipPoolResource(CALICO_GROUP, 'v1'),
  ...calicoPolicyResources(CALICO_GROUP, 'v1', { namespaced: [], global: [] }),
  // The same pool as projectcalico.org/v3, as Calico's API server (or 3.32's native CRDs) serves it.
  ipPoolResource(CALICO_V3_GROUP, 'v3'),
  {
    group: CALICO_V3_GROUP,
    version: 'v3',
    name: 'nodes',
    singularName: 'node',
    kind: 'Node',
    namespaced: false,
    shortNames: [],
    categories: [],
    fieldLabels: META_FIELDS,
    printer: TABLE_PRINTERS.default,
    build: (ctx) => ctx.plan.nodes.map((n) => buildCalicoNode(ctx, n)),
  },
  // Calico's API server (an aggregated API) serves the same objects as v3.
  ...calicoPolicyResources(CALICO_V3_GROUP, 'v3', {
    namespaced: ['cnp', 'caliconetworkpolicy', 'caliconetworkpolicies'],
    global: ['gnp', 'cgnp', 'calicoglobalnetworkpolicies'],
  }),
];

export function groupVersionOf(r: Pick<LabResource, 'group' | 'version'>): string {
  return r.group === '' ? r.version : `${r.group}/${r.version}`;
}

export function findResource(group: string, version: string, name: string): LabResource | undefined {
  return LAB_RESOURCES.find((r) => r.group === group && r.version === version && r.name === name);
}

/** GET /api */
export function apiVersions(serverAddress: string) {
  return {
    kind: 'APIVersions',
    versions: ['v1'],
    serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }],
  };
}

function groups(): Map<string, string[]> {
  const byGroup = new Map<string, string[]>();
  for (const r of LAB_RESOURCES) {
    if (r.group === '') continue;
    const versions = byGroup.get(r.group) ?? [];
    if (!versions.includes(r.version)) versions.push(r.version);
    byGroup.set(r.group, versions);
  }
  return byGroup;
}

function apiGroup(name: string, versions: string[]) {
  const list = versions.map((version) => ({ groupVersion: `${name}/${version}`, version }));
  return { name, versions: list, preferredVersion: list[0] };
}

/** GET /apis */
export function apiGroupList() {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups()].map(([name, versions]) => apiGroup(name, versions)),
  };
}

/** GET /apis/<group> */
export function apiGroupDocument(group: string) {
  const versions = groups().get(group);
  return versions ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(group, versions) } : undefined;
}

/** GET /api/v1 or /apis/<group>/<version> */
export function apiResourceList(group: string, version: string) {
  const resources = LAB_RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: groupVersionOf({ group, version }),
    resources: resources.map((r) => ({
      name: r.name,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.family === undefined ? READ_VERBS : WRITE_VERBS,
      ...(r.shortNames.length > 0 ? { shortNames: r.shortNames } : {}),
      ...(r.categories.length > 0 ? { categories: r.categories } : {}),
    })),
  };
}

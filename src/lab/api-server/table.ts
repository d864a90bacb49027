/**
 * Server-side printing: the meta.k8s.io/v1 Table kubectl asks for (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`),
 * with the columns and cell formats of kubernetes pkg/printers/internalversion (priority 1 = shown by `-o wide`).
 * Pure: objects and "now" in, Table out.
 */
import type { KubeObject } from './objects.ts';

export interface TableColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  format: string;
  description: string;
  priority: number;
}

export interface TablePrinter {
  columns: TableColumn[];
  cells(object: KubeObject, now: Date): unknown[];
}

/** What a row carries as `object` (query parameter includeObject; kubectl's default is Metadata). */
export type IncludeObject = 'None' | 'Metadata' | 'Object';

type Json = Record<string, unknown>;

const NONE = '<none>';

function col(name: string, type: TableColumn['type'], description: string, priority = 0, format = ''): TableColumn {
  return { name, type, format, description, priority };
}

const NAME_COLUMN = col(
  'Name',
  'string',
  'Name must be unique within a namespace. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names',
  0,
  'name',
);
const AGE_COLUMN = col(
  'Age',
  'string',
  'CreationTimestamp is a timestamp representing the server time when this object was created.',
);

/** apimachinery's duration.HumanDuration: the AGE column ("45s", "5m12s", "3h", "2d4h", "1y20d"). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const days = Math.floor(hours / 24) % 365;
    const years = Math.floor(hours / 24 / 365);
    return days === 0 ? `${years}y` : `${years}y${days}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

function age(o: KubeObject, now: Date): string {
  return humanDuration(now.getTime() - Date.parse(o.metadata.creationTimestamp));
}

function obj(v: unknown): Json {
  return v !== null && typeof v === 'object' ? (v as Json) : {};
}

function list(v: unknown): Json[] {
  return Array.isArray(v) ? (v as Json[]) : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function labelsText(labels: unknown): string {
  const entries = Object.entries(obj(labels));
  return entries.length === 0 ? NONE : entries.map(([k, v]) => `${k}=${String(v)}`).join(',');
}

const podPrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col('Ready', 'string', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'string', 'The aggregate status of the containers in this pod.'),
    col(
      'Restarts',
      'string',
      'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.',
    ),
    AGE_COLUMN,
    col(
      'IP',
      'string',
      'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.',
      1,
    ),
    col(
      'Node',
      'string',
      'NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.',
      1,
    ),
    col(
      'Nominated Node',
      'string',
      'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.',
      1,
    ),
    col('Readiness Gates', 'string', 'If specified, all readiness gates will be evaluated for pod readiness.', 1),
  ],
  cells(o, now) {
    const spec = obj(o.spec);
    const status = obj(o.status);
    const statuses = list(status.containerStatuses);
    const ready = statuses.filter((c) => c.ready === true).length;
    const restarts = statuses.reduce((n, c) => n + (typeof c.restartCount === 'number' ? c.restartCount : 0), 0);
    return [
      o.metadata.name,
      `${ready}/${list(spec.containers).length}`,
      str(status.phase),
      String(restarts),
      age(o, now),
      str(status.podIP) || NONE,
      str(spec.nodeName) || NONE,
      str(status.nominatedNodeName) || NONE,
      NONE,
    ];
  },
};

const nodePrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col('Status', 'string', 'The status of the node'),
    col('Roles', 'string', 'The roles of the node'),
    AGE_COLUMN,
    col('Version', 'string', 'Kubelet Version reported by the node.'),
    col('Internal-IP', 'string', 'List of addresses reachable to the node.', 1),
    col('External-IP', 'string', 'List of addresses reachable to the node.', 1),
    col(
      'OS-Image',
      'string',
      'OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).',
      1,
    ),
    col(
      'Kernel-Version',
      'string',
      "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
      1,
    ),
    col(
      'Container-Runtime',
      'string',
      'ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).',
      1,
    ),
  ],
  cells(o, now) {
    const status = obj(o.status);
    const info = obj(status.nodeInfo);
    const ready = list(status.conditions).find((c) => c.type === 'Ready');
    const addresses = list(status.addresses);
    const address = (type: string) => str(addresses.find((a) => a.type === type)?.address) || NONE;
    const roles = Object.keys(o.metadata.labels ?? {})
      .filter((k) => k.startsWith('node-role.kubernetes.io/'))
      .map((k) => k.slice('node-role.kubernetes.io/'.length));
    return [
      o.metadata.name,
      ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown',
      roles.length > 0 ? roles.join(',') : NONE,
      age(o, now),
      str(info.kubeletVersion),
      address('InternalIP'),
      address('ExternalIP'),
      str(info.osImage),
      str(info.kernelVersion),
      str(info.containerRuntimeVersion),
    ];
  },
};

const servicePrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col('Type', 'string', 'type determines how the Service is exposed.'),
    col('Cluster-IP', 'string', 'clusterIP is the IP address of the service and is usually assigned randomly.'),
    col(
      'External-IP',
      'string',
      'List of IP addresses for which nodes in the cluster will also accept traffic for this service.',
    ),
    col('Port(s)', 'string', 'The list of ports that are exposed by this service.'),
    AGE_COLUMN,
    col('Selector', 'string', 'Route service traffic to pods with label keys and values matching this selector.', 1),
  ],
  cells(o, now) {
    const spec = obj(o.spec);
    const ports = list(spec.ports).map((p) =>
      p.nodePort
        ? `${String(p.port)}:${String(p.nodePort)}/${str(p.protocol)}`
        : `${String(p.port)}/${str(p.protocol)}`,
    );
    return [
      o.metadata.name,
      str(spec.type),
      str(spec.clusterIP) || NONE,
      NONE,
      ports.join(',') || NONE,
      age(o, now),
      labelsText(spec.selector),
    ];
  },
};

const endpointsPrinter: TablePrinter = {
  columns: [NAME_COLUMN, col('Endpoints', 'string', 'Endpoints of the service'), AGE_COLUMN],
  cells(o, now) {
    const pairs = list(o.subsets).flatMap((s) =>
      list(s.addresses).flatMap((a) => list(s.ports).map((p) => `${str(a.ip)}:${String(p.port)}`)),
    );
    return [o.metadata.name, pairs.join(',') || NONE, age(o, now)];
  },
};

const endpointSlicePrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col('AddressType', 'string', 'The IP protocol for this slice'),
    col('Ports', 'string', 'The ports for this slice'),
    col('Endpoints', 'string', 'First 3 endpoints for this slice'),
    AGE_COLUMN,
  ],
  cells(o, now) {
    const addresses = list(o.endpoints).flatMap((e) => (Array.isArray(e.addresses) ? (e.addresses as string[]) : []));
    const shown = addresses.slice(0, 3).join(',') + (addresses.length > 3 ? ` + ${addresses.length - 3} more...` : '');
    const ports = list(o.ports)
      .map((p) => String(p.port))
      .join(',');
    return [o.metadata.name, str(o.addressType), ports || NONE, shown || NONE, age(o, now)];
  },
};

const namespacePrinter: TablePrinter = {
  columns: [NAME_COLUMN, col('Status', 'string', 'The status of the namespace'), AGE_COLUMN],
  cells: (o, now) => [o.metadata.name, str(obj(o.status).phase), age(o, now)],
};

/** metav1.FormatLabelSelector: matchLabels as k=v, then expressions ("tier in (a,b)", "!k", "k"); empty → <none>. */
export function labelSelectorText(selector: unknown): string {
  const s = obj(selector);
  const parts = Object.entries(obj(s.matchLabels)).map(([k, v]) => `${k}=${String(v)}`);
  for (const e of list(s.matchExpressions)) {
    const values = Array.isArray(e.values) ? (e.values as unknown[]).map(String).join(',') : '';
    const key = str(e.key);
    switch (e.operator) {
      case 'In':
        parts.push(`${key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(key);
        break;
      case 'DoesNotExist':
        parts.push(`!${key}`);
        break;
    }
  }
  return parts.length === 0 ? NONE : parts.join(',');
}

/** printers/internalversion printNetworkPolicy: Name, Pod-Selector, Age. */
const networkPolicyPrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col('Pod-Selector', 'string', 'Select the pods to which this NetworkPolicy object applies.'),
    AGE_COLUMN,
  ],
  cells: (o, now) => [o.metadata.name, labelSelectorText(obj(o.spec).podSelector), age(o, now)],
};

/** Custom resources without additionalPrinterColumns, and CRDs: the API server's default Name / Created At. */
const defaultPrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col(
      'Created At',
      'date',
      'CreationTimestamp is a timestamp representing the server time when this object was created.',
    ),
  ],
  cells: (o) => [o.metadata.name, o.metadata.creationTimestamp],
};

/** printers/internalversion printConfigMap: Name, Data (number of keys), Age. */
const configMapPrinter: TablePrinter = {
  columns: [NAME_COLUMN, col('Data', 'string', 'Data contains the configuration data.'), AGE_COLUMN],
  cells: (o, now) => [
    o.metadata.name,
    Object.keys(obj(o.data)).length + Object.keys(obj(o.binaryData)).length,
    age(o, now),
  ],
};

/** printers/internalversion printDaemonSet: Desired, Current, Ready, Up-to-date, Available, Node Selector, Age. */
const daemonSetPrinter: TablePrinter = {
  columns: [
    NAME_COLUMN,
    col('Desired', 'integer', 'The desired number of nodes that should be running the daemon pod.'),
    col(
      'Current',
      'integer',
      'The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod.',
    ),
    col(
      'Ready',
      'integer',
      'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and ready.',
    ),
    col('Up-to-date', 'integer', 'The total number of nodes that are running updated daemon pod'),
    col(
      'Available',
      'integer',
      'The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)',
    ),
    col('Node Selector', 'string', 'NodeSelector is a selector which must be true for the pod to fit on a node.'),
    AGE_COLUMN,
  ],
  cells(o, now) {
    const status = obj(o.status);
    const n = (v: unknown) => (typeof v === 'number' ? v : 0);
    return [
      o.metadata.name,
      n(status.desiredNumberScheduled),
      n(status.currentNumberScheduled),
      n(status.numberReady),
      n(status.updatedNumberScheduled),
      n(status.numberAvailable),
      labelsText(obj(obj(obj(o.spec).template).spec).nodeSelector),
      age(o, now),
    ];
  },
};

export const TABLE_PRINTERS = {
  configmaps: configMapPrinter,
  daemonsets: daemonSetPrinter,
  pods: podPrinter,
  nodes: nodePrinter,
  services: servicePrinter,
  endpoints: endpointsPrinter,
  endpointslices: endpointSlicePrinter,
  namespaces: namespacePrinter,
  networkpolicies: networkPolicyPrinter,
  default: defaultPrinter,
} as const;

function rowObject(o: KubeObject, apiVersion: string, kind: string, include: IncludeObject): Json | undefined {
  if (include === 'None') return undefined;
  if (include === 'Object') return { kind, apiVersion, ...o };
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
}

export function toTable(
  printer: TablePrinter,
  objects: KubeObject[],
  options: { now: Date; apiVersion: string; kind: string; includeObject: IncludeObject; resourceVersion: string },
): Json {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion: options.resourceVersion },
    columnDefinitions: printer.columns,
    rows: objects.map((o) => {
      const object = rowObject(o, options.apiVersion, options.kind, options.includeObject);
      return { cells: printer.cells(o, options.now), ...(object ? { object } : {}) };
    }),
  };
}

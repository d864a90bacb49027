/**
 * Validation of every value that comes from a user or from the cluster before it is used in a node command,
 * an API path or a capture filter. Each function returns the value (typed) or throws InvalidInputError with
 * a message that says what was wrong. Only plain ASCII is accepted where Kubernetes or Linux allow only ASCII,
 * so unicode look-alikes (e.g. Cyrillic 'о') are refused rather than normalised.
 */
import { isIP } from 'node:net';
import { InvalidInputError } from './errors.ts';

/** RFC 1123 label, as Kubernetes uses for namespaces and most names: at most 63 characters. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DNS1123_LABEL_MAX = 63;
/** RFC 1123 subdomain, as Kubernetes uses for pod and node names: at most 253 characters. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1123_SUBDOMAIN_MAX = 253;
/** Linux IFNAMSIZ is 16 including the NUL byte. */
export const IFNAME_MAX = 15;
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]*$/;

function printable(value: string): string {
  const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
  return JSON.stringify(shown);
}

function requireString(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new InvalidInputError(field, 'is required');
  return value;
}

/** Names that would be read as an option by a command (`-oProxyCommand=…`) never pass: the patterns start alphanumeric. */
export function validateDnsLabel(field: string, value: unknown): string {
  const v = requireString(field, value);
  if (v.length > DNS1123_LABEL_MAX)
    throw new InvalidInputError(field, `is longer than ${DNS1123_LABEL_MAX} characters`);
  if (!DNS1123_LABEL.test(v)) {
    throw new InvalidInputError(
      field,
      `${printable(v)} is not a valid name (lower-case letters, digits and '-', starting and ending with a letter or digit)`,
    );
  }
  return v;
}

export function validateDnsSubdomain(field: string, value: unknown): string {
  const v = requireString(field, value);
  if (v.length > DNS1123_SUBDOMAIN_MAX)
    throw new InvalidInputError(field, `is longer than ${DNS1123_SUBDOMAIN_MAX} characters`);
  if (!DNS1123_SUBDOMAIN.test(v)) {
    throw new InvalidInputError(
      field,
      `${printable(v)} is not a valid name (lower-case letters, digits, '-' and '.', starting and ending with a letter or digit)`,
    );
  }
  return v;
}

export const validateNamespace = (value: unknown, field = 'namespace'): string => validateDnsLabel(field, value);
export const validatePodName = (value: unknown, field = 'pod'): string => validateDnsSubdomain(field, value);
export const validateNodeName = (value: unknown, field = 'node'): string => validateDnsSubdomain(field, value);
export const validateServiceName = (value: unknown, field = 'service'): string => validateDnsLabel(field, value);

function parseInteger(field: string, value: unknown): number {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^[0-9]{1,10}$/.test(value)) return Number(value);
  throw new InvalidInputError(field, `${printable(String(value))} is not a whole number`);
}

export function validateIntegerInRange(field: string, value: unknown, min: number, max: number): number {
  const n = parseInteger(field, value);
  if (n < min || n > max) throw new InvalidInputError(field, `${n} is outside ${min}–${max}`);
  return n;
}

export const validatePort = (value: unknown, field = 'port'): number => validateIntegerInRange(field, value, 1, 65535);

/** kube-proxy's default NodePort range is 30000–32767, but clusters can change it (--service-node-port-range). */
export const validateNodePort = (value: unknown, field = 'port'): number => validatePort(value, field);

export function validateInterfaceName(value: unknown, field = 'interface'): string {
  const v = requireString(field, value);
  if (v.length > IFNAME_MAX)
    throw new InvalidInputError(field, `${printable(v)} is longer than ${IFNAME_MAX} characters`);
  if (!IFNAME.test(v)) throw new InvalidInputError(field, `${printable(v)} is not a valid interface name`);
  return v;
}

export type IpFamily = 4 | 6;

export function validateIp(value: unknown, field = 'ip'): string {
  const v = requireString(field, value);
  // isIP accepts IPv6 zone ids ("fe80::1%eth0"); a zone is never valid in our filters and routes.
  if (v.includes('%') || isIP(v) === 0) throw new InvalidInputError(field, `${printable(v)} is not an IP address`);
  return v;
}

export function ipFamily(ip: string): IpFamily {
  return isIP(ip) === 6 ? 6 : 4;
}

export function validateCidr(value: unknown, field = 'cidr'): string {
  const v = requireString(field, value);
  const m = /^(?<addr>[0-9a-fA-F.:]+)\/(?<len>[0-9]{1,3})$/.exec(v);
  if (!m?.groups) throw new InvalidInputError(field, `${printable(v)} is not a CIDR (address/prefix)`);
  const addr = validateIp(m.groups.addr, field);
  const max = ipFamily(addr) === 4 ? 32 : 128;
  validateIntegerInRange(`${field} prefix`, m.groups.len, 0, max);
  return v;
}

/** A container or sandbox id as containerd and docker print it: 12 to 64 lower-case hex digits. */
export function validateContainerId(value: unknown, field = 'container id'): string {
  const v = requireString(field, value).replace(/^(containerd|docker|cri-o):\/\//, '');
  if (!/^[0-9a-f]{12,64}$/.test(v)) throw new InvalidInputError(field, `${printable(v)} is not a container id`);
  return v;
}

/** A network namespace name as `ip netns` lists it (e.g. cni-1b2c…): no path separators, no leading dash. */
export function validateNetnsName(value: unknown, field = 'netns'): string {
  const v = requireString(field, value);
  if (v.length > 255 || !/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(v))
    throw new InvalidInputError(field, `${printable(v)} is not a network namespace name`);
  return v;
}

/** Where runtimes keep network namespaces: `ip netns` (containerd's CNI), docker's sandboxes, a process's own. */
const NETNS_NAMED_PATH = /^\/(?:var\/)?run\/netns\/(?<name>[A-Za-z0-9][A-Za-z0-9_.-]{0,254})$/;
const NETNS_OTHER_PATH =
  /^(?:\/(?:var\/)?run\/docker\/netns\/[A-Za-z0-9][A-Za-z0-9_.-]{0,254}|\/proc\/[1-9][0-9]{0,9}\/ns\/net)$/;

/**
 * A network namespace as k8snet addresses it: an `ip netns` name (`cni-1b2c…`), or a path for namespaces `ip netns`
 * does not list (docker's `/var/run/docker/netns/…`, `/proc/PID/ns/net`). `/var/run/netns/NAME` becomes NAME.
 */
export function validateNetnsRef(value: unknown, field = 'netns'): string {
  if (typeof value === 'string' && value.startsWith('/')) {
    const named = NETNS_NAMED_PATH.exec(value);
    if (named?.groups) return named.groups.name!;
    if (NETNS_OTHER_PATH.test(value)) return value;
    throw new InvalidInputError(
      field,
      `${JSON.stringify(value.slice(0, 60))} is not a network namespace path k8snet knows (/var/run/netns, /var/run/docker/netns, /proc/PID/ns/net)`,
    );
  }
  return validateNetnsName(value, field);
}

/** Lab names prefix namespaces and interfaces; interface names are limited to 15 characters (IFNAMSIZ - 1). */
const LAB_NAME = /^[a-z][a-z0-9]{0,5}$/;

export function validateLabName(value: unknown): string {
  if (typeof value !== 'string' || !LAB_NAME.test(value)) {
    throw new InvalidInputError(
      'lab name',
      `${JSON.stringify(value)} must be 1–6 lower-case letters or digits, starting with a letter`,
    );
  }
  return value;
}

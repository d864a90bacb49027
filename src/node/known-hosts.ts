/**
 * OpenSSH known_hosts checking for ssh2's `hostVerifier` (which accepts any key unless told otherwise).
 * Understands plain names, `[host]:port`, comma lists, `*`/`?` wildcards, `!` negations, hashed `|1|salt|hash`
 * entries (HMAC-SHA1 of the name, keyed by the salt) and the @revoked / @cert-authority markers (sshd(8),
 * "SSH_KNOWN_HOSTS FILE FORMAT"). Keys are compared as blobs (the base64 field: key type + key), never by text.
 * Strict: an unknown host, a changed key or a revoked key is refused with a message saying which.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { K8snetError } from '../errors.ts';
import { DEFAULT_SSH_PORT } from './ssh-settings.ts';

export type KnownHostMarker = 'revoked' | 'cert-authority' | null;

export interface KnownHostEntry {
  /** 1-based line in the file, for messages. */
  line: number;
  marker: KnownHostMarker;
  patterns: string[];
  keyType: string;
  /** base64 of the key blob, as in the file. */
  key: string;
}

export interface KnownHostsFile {
  entries: KnownHostEntry[];
  /** Lines that are neither comments nor entries (kept, not silently dropped). */
  unparsed: { line: number; text: string }[];
}

const ENTRY =
  /^(?:@(?<marker>[a-z-]+)\s+)?(?<hosts>\S+)\s+(?<type>[a-z0-9@.-]+)\s+(?<key>[A-Za-z0-9+/]+={0,2})(?:\s+(?<comment>.*))?$/;

export function parseKnownHosts(text: string): KnownHostsFile {
  const entries: KnownHostEntry[] = [];
  const unparsed: KnownHostsFile['unparsed'] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const m = ENTRY.exec(line);
    const marker = m?.groups?.marker;
    // The blob names its own type: a line whose key does not decode to the type it claims is not an entry.
    const valid = m?.groups && keyBlobType(Buffer.from(m.groups.key!, 'base64')) === m.groups.type;
    if (!valid || !m?.groups || (marker !== undefined && marker !== 'revoked' && marker !== 'cert-authority')) {
      unparsed.push({ line: i + 1, text: line });
      return;
    }
    entries.push({
      line: i + 1,
      marker: (marker as KnownHostMarker | undefined) ?? null,
      patterns: m.groups.hosts!.split(','),
      keyType: m.groups.type!,
      key: m.groups.key!,
    });
  });
  return { entries, unparsed };
}

/** The name OpenSSH files a host under: `host` on port 22, `[host]:port` otherwise. */
export function hostKeyName(host: string, port: number): string {
  return port === DEFAULT_SSH_PORT ? host : `[${host}]:${port}`;
}

function wildcardMatch(pattern: string, name: string): boolean {
  if (!/[*?]/.test(pattern)) return pattern.toLowerCase() === name.toLowerCase();
  const re = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replaceAll('*', '.*')
      .replaceAll('?', '.')}$`,
    'i',
  );
  return re.test(name);
}

function hashedMatch(pattern: string, name: string): boolean {
  const [, , salt, hash] = pattern.split('|');
  if (!salt || !hash) return false;
  const want = Buffer.from(hash, 'base64');
  const got = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** One line's host field against one name: any positive pattern matches and no negated one does. */
export function hostPatternsMatch(patterns: readonly string[], name: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (wildcardMatch(p.slice(1), name)) return false;
    } else if (p.startsWith('|1|') ? hashedMatch(p, name) : wildcardMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The key type inside a key blob (its first SSH string). */
export function keyBlobType(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || blob.length < 4 + len) return null;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `SHA256:…` as `ssh-keygen -lf` and OpenSSH's own warnings print it. */
export function keyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

export type HostKeyCheck =
  | { ok: true; entry: KnownHostEntry }
  | { ok: false; reason: 'unknown' | 'revoked' }
  | { ok: false; reason: 'changed'; entry: KnownHostEntry }
  | { ok: false; reason: 'other-type'; knownTypes: string[] };

/**
 * Checks a presented key blob for a host known by any of `names`. A key listed @revoked is refused whatever host
 * its line names (stricter than matching the host: a revoked key is never good). @cert-authority lines are not
 * used: k8snet does not negotiate host certificates.
 */
export function checkHostKey(file: KnownHostsFile, names: readonly string[], keyBlob: Buffer): HostKeyCheck {
  const presented = keyBlob.toString('base64');
  if (file.entries.some((e) => e.marker === 'revoked' && e.key === presented)) return { ok: false, reason: 'revoked' };
  const forHost = file.entries.filter((e) => e.marker === null && names.some((n) => hostPatternsMatch(e.patterns, n)));
  const same = forHost.find((e) => e.key === presented);
  if (same) return { ok: true, entry: same };
  if (forHost.length === 0) return { ok: false, reason: 'unknown' };
  const type = keyBlobType(keyBlob);
  const sameType = forHost.find((e) => e.keyType === type);
  if (sameType) return { ok: false, reason: 'changed', entry: sameType };
  return { ok: false, reason: 'other-type', knownTypes: [...new Set(forHost.map((e) => e.keyType))] };
}

/** ssh2's names for the signature algorithms a known key type can be used with (an RSA key signs as rsa-sha2-*). */
const ALGORITHMS_FOR_KEY_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

/**
 * The host key algorithms to offer, preferring the types known_hosts holds for this host (as OpenSSH does), so a
 * node with several host keys presents the one we can check. Null when nothing is known (ssh2's defaults).
 */
export function hostKeyAlgorithmsFor(file: KnownHostsFile, names: readonly string[]): string[] | null {
  const types = file.entries
    .filter((e) => e.marker === null && names.some((n) => hostPatternsMatch(e.patterns, n)))
    .map((e) => e.keyType);
  const algorithms = [...new Set(types.flatMap((t) => ALGORITHMS_FOR_KEY_TYPE[t] ?? []))];
  return algorithms.length > 0 ? algorithms : null;
}

export async function loadKnownHosts(path: string): Promise<KnownHostsFile> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (err) {
    throw new K8snetError(
      'config',
      `cannot read known_hosts file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`,
      { cause: err },
    );
  }
}

export interface HostKeyVerifier {
  /** For ssh2's `hostVerifier`: the raw key blob (no `hostHash` set). */
  verify(key: Buffer): boolean;
  /** Why the last key was refused, as the error to throw; null when none was. */
  refusal(): K8snetError | null;
  /** Server host key algorithms to offer (see hostKeyAlgorithmsFor). */
  algorithms: string[] | null;
}

export interface HostKeyTarget {
  /** The Kubernetes node name (or "jump host …"), for messages and as an alternative known_hosts name. */
  node: string;
  host: string;
  port: number;
}

type HostKeyRefusal = Exclude<HostKeyCheck, { ok: true }>;

function refusalMessage(result: HostKeyRefusal, where: string, path: string, key: Buffer): string {
  const type = keyBlobType(key) ?? 'unknown-type';
  const presented = `${type} ${keyFingerprint(key)}`;
  switch (result.reason) {
    case 'unknown':
      return `host key for ${where} is not in known_hosts ${path}; the node presented ${presented}. Add it (ssh-keyscan, checked out of band) before k8snet may connect`;
    case 'revoked':
      return `host key for ${where} is marked @revoked in ${path} (${presented}); refusing to connect`;
    case 'changed':
      return `HOST KEY CHANGED for ${where}: it presented ${presented}, which does not match ${path} line ${result.entry.line}. Someone may be intercepting the connection, or the node was rebuilt; check before updating known_hosts`;
    case 'other-type':
      return `host key for ${where} is a ${type} key (${presented}) but ${path} holds only ${result.knownTypes.join(', ')} for it; refusing to connect`;
  }
}

/**
 * A verifier that remembers why it refused, so the connection error can say so (ssh2 only reports "Host denied").
 * The node is looked up by the address dialled and by its node name, each as `[name]:port` off port 22.
 */
export function knownHostsVerifier(file: KnownHostsFile, path: string, target: HostKeyTarget): HostKeyVerifier {
  const names = [...new Set([hostKeyName(target.host, target.port), hostKeyName(target.node, target.port)])];
  const where = `${target.node} (${target.host}:${target.port})`;
  let refusal: K8snetError | null = null;
  return {
    algorithms: hostKeyAlgorithmsFor(file, names),
    refusal: () => refusal,
    verify(key) {
      const result = checkHostKey(file, names, key);
      if (result.ok) return true;
      const message = refusalMessage(result, where, path, key);
      refusal = new K8snetError('ssh_host_key', message);
      return false;
    },
  };
}

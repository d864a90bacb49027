/**
 * OpenSSH known_hosts checking for ssh2's hostVerifier: plain and hashed (`|1|salt|hash`) host patterns, comma
 * lists, `[host]:port`, and @revoked markers. Strict: an unknown host or a different key is refused with a message
 * that says which, never accepted silently (ssh2 accepts any key unless told otherwise).
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { K8snetError } from '../errors.ts';

export interface KnownHostEntry {
  patterns: string[];
  keyType: string;
  /** base64 of the key blob, as in the file. */
  key: string;
  revoked: boolean;
}

export function parseKnownHosts(text: string): KnownHostEntry[] {
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | null = null;
    if (fields[0]?.startsWith('@')) marker = fields.shift()!;
    const [hosts, keyType, key] = fields;
    if (!hosts || !keyType || !key || marker === '@cert-authority') continue;
    out.push({ patterns: hosts.split(','), keyType, key, revoked: marker === '@revoked' });
  }
  return out;
}

/** The name a host is filed under: `host` on port 22, `[host]:port` otherwise (OpenSSH's rule). */
export function hostKeyName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function matches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return pattern === name;
}

export type HostKeyCheck = { ok: true } | { ok: false; reason: 'unknown' | 'changed' | 'revoked' };

export function checkHostKey(entries: readonly KnownHostEntry[], names: readonly string[], keyBlob: Buffer): HostKeyCheck {
  const presented = keyBlob.toString('base64');
  const forHost = entries.filter((e) => e.patterns.some((p) => !p.startsWith('!') && names.some((n) => matches(p, n))));
  if (forHost.some((e) => e.revoked && e.key === presented)) return { ok: false, reason: 'revoked' };
  if (forHost.some((e) => !e.revoked && e.key === presented)) return { ok: true };
  return { ok: false, reason: forHost.some((e) => !e.revoked) ? 'changed' : 'unknown' };
}

/**
 * A hostVerifier for ssh2 that records why it refused, so the connection error can say so (ssh2 only reports
 * "host denied"). The file is read when the verifier is made: a missing file is a clear config error.
 */
export function knownHostsVerifier(path: string, node: string, host: string, port: number): { verify(key: Buffer): boolean; refusal(): string | null } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new K8snetError('config', `cannot read known_hosts file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  const entries = parseKnownHosts(text);
  let refusal: string | null = null;
  return {
    verify(key) {
      const result = checkHostKey(entries, [hostKeyName(host, port), hostKeyName(node, port)], key);
      if (result.ok) return true;
      refusal =
        result.reason === 'unknown'
          ? `host key for ${node} (${host}:${port}) is not in ${path}; add it (ssh-keyscan, checked out of band) before k8snet may connect`
          : result.reason === 'revoked'
            ? `host key for ${node} (${host}:${port}) is marked @revoked in ${path}`
            : `HOST KEY CHANGED for ${node} (${host}:${port}): it does not match ${path}. Someone may be intercepting the connection, or the node was rebuilt; check before updating known_hosts`;
      return false;
    },
    refusal: () => refusal,
  };
}

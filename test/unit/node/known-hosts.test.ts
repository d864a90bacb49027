import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8snetError } from '../../../src/errors.ts';
import {
  checkHostKey,
  hostKeyAlgorithmsFor,
  hostKeyName,
  hostPatternsMatch,
  keyBlobType,
  keyFingerprint,
  knownHostsVerifier,
  loadKnownHosts,
  parseKnownHosts,
} from '../../../src/node/known-hosts.ts';

// Real keys from ssh-keygen: the blobs are what sshd presents and what ssh2 hands the hostVerifier.
const dir = mkdtempSync(join(tmpdir(), 'k8snet-kh-'));
function keygen(name: string, type: string): { line: string; blob: Buffer } {
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', `${name}@test`, '-f', join(dir, name)]);
  const line = readFileSync(join(dir, `${name}.pub`), 'utf8').trim();
  return { line, blob: Buffer.from(line.split(' ')[1]!, 'base64') };
}
const node1 = keygen('node1', 'ed25519');
const other = keygen('other', 'ed25519');
const rsa = keygen('rsa', 'rsa');
const keyPart = (k: { line: string }) => k.line.split(' ').slice(0, 2).join(' ');

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

const text = [
  '# lab nodes',
  `k8s-node1,10.0.0.11 ${keyPart(node1)}`,
  `${hashed('[10.0.0.12]:2222')} ${keyPart(node1)} hashed-entry`,
  `10.0.1.* ${keyPart(rsa)}`,
  `10.0.2.*,!10.0.2.66 ${keyPart(node1)}`,
  `@revoked * ${keyPart(other)}`,
  `@cert-authority *.example.com ${keyPart(rsa)}`,
  'this line is not an entry',
  '',
].join('\n');
const file = parseKnownHosts(text);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('parsing a known_hosts file', () => {
  it('reads plain, hashed, wildcard and marked entries and keeps the lines it cannot read', () => {
    expect(file.entries.map((e) => [e.line, e.marker, e.patterns.length, e.keyType])).toEqual([
      [2, null, 2, 'ssh-ed25519'],
      [3, null, 1, 'ssh-ed25519'],
      [4, null, 1, 'ssh-rsa'],
      [5, null, 2, 'ssh-ed25519'],
      [6, 'revoked', 1, 'ssh-ed25519'],
      [7, 'cert-authority', 1, 'ssh-rsa'],
    ]);
    expect(file.unparsed).toEqual([{ line: 8, text: 'this line is not an entry' }]);
  });

  it('files a host under [host]:port off port 22, as OpenSSH does', () => {
    expect(hostKeyName('10.0.0.11', 22)).toBe('10.0.0.11');
    expect(hostKeyName('10.0.0.11', 2222)).toBe('[10.0.0.11]:2222');
  });

  it('matches wildcards and honours negations', () => {
    expect(hostPatternsMatch(['10.0.1.*'], '10.0.1.9')).toBe(true);
    expect(hostPatternsMatch(['10.0.1.*'], '10.0.10.9')).toBe(false);
    expect(hostPatternsMatch(['10.0.2.*', '!10.0.2.66'], '10.0.2.66')).toBe(false);
    expect(hostPatternsMatch(['K8S-NODE1'], 'k8s-node1')).toBe(true);
  });

  it('reads the key type and the SHA256 fingerprint from a key blob as ssh-keygen prints them', () => {
    expect(keyBlobType(rsa.blob)).toBe('ssh-rsa');
    const printed = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', join(dir, 'node1.pub')], {
      encoding: 'utf8',
    });
    expect(printed).toContain(keyFingerprint(node1.blob));
  });
});

describe('checking a presented host key', () => {
  it('accepts the recorded key by address, by node name and through a hashed [host]:port entry', () => {
    expect(checkHostKey(file, ['10.0.0.11'], node1.blob).ok).toBe(true);
    expect(checkHostKey(file, ['k8s-node1'], node1.blob).ok).toBe(true);
    expect(checkHostKey(file, ['[10.0.0.12]:2222'], node1.blob).ok).toBe(true);
    expect(checkHostKey(file, ['10.0.0.12'], node1.blob)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('refuses an unknown host, a changed key, a key of a type it does not know, and a revoked key', () => {
    expect(checkHostKey(file, ['10.0.0.99'], node1.blob)).toEqual({ ok: false, reason: 'unknown' });
    expect(checkHostKey(file, ['10.0.0.11'], keygen('rebuilt', 'ed25519').blob)).toMatchObject({
      ok: false,
      reason: 'changed',
      entry: { line: 2 },
    });
    expect(checkHostKey(file, ['10.0.1.5'], node1.blob)).toEqual({
      ok: false,
      reason: 'other-type',
      knownTypes: ['ssh-rsa'],
    });
    expect(checkHostKey(file, ['10.0.0.11'], other.blob)).toEqual({ ok: false, reason: 'revoked' });
  });

  it('never trusts a @cert-authority line as a host key', () => {
    expect(checkHostKey(file, ['api.example.com'], rsa.blob)).toEqual({ ok: false, reason: 'unknown' });
  });

  it('offers the host key algorithms known_hosts can check, RSA keys as rsa-sha2 first', () => {
    expect(hostKeyAlgorithmsFor(file, ['10.0.1.7'])).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
    expect(hostKeyAlgorithmsFor(file, ['10.0.0.11', 'k8s-node1'])).toEqual(['ssh-ed25519']);
    expect(hostKeyAlgorithmsFor(file, ['192.0.2.1'])).toBeNull();
  });
});

describe('the hostVerifier handed to ssh2', () => {
  const path = '/etc/k8snet/known_hosts';

  it('says which node, which address and which file when the host is unknown', () => {
    const v = knownHostsVerifier(file, path, { node: 'k8s-node3', host: '10.0.0.13', port: 22 });
    expect(v.verify(node1.blob)).toBe(false);
    const err = v.refusal();
    expect(err).toBeInstanceOf(K8snetError);
    expect(err?.code).toBe('ssh_host_key');
    expect(err?.message).toMatch(
      /^host key for k8s-node3 \(10\.0\.0\.13:22\) is not in known_hosts \/etc\/k8snet\/known_hosts; the node presented ssh-ed25519 SHA256:/,
    );
  });

  it('shouts HOST KEY CHANGED with the line it disagrees with', () => {
    const v = knownHostsVerifier(file, path, { node: 'k8s-node1', host: '10.0.0.11', port: 22 });
    expect(v.verify(keygen('mitm', 'ed25519').blob)).toBe(false);
    expect(v.refusal()?.message).toMatch(
      /^HOST KEY CHANGED for k8s-node1 \(10\.0\.0\.11:22\): .* does not match \/etc\/k8snet\/known_hosts line 2\./,
    );
  });

  it('accepts the right key and has nothing to refuse', () => {
    const v = knownHostsVerifier(file, path, { node: 'k8s-node1', host: '10.0.0.11', port: 22 });
    expect(v.verify(node1.blob)).toBe(true);
    expect(v.refusal()).toBeNull();
  });

  it('names a missing known_hosts file as a config error', async () => {
    await expect(loadKnownHosts('/nonexistent/known_hosts')).rejects.toMatchObject({
      code: 'config',
      message: 'cannot read known_hosts file /nonexistent/known_hosts: ENOENT',
    });
  });
});

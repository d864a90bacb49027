import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHmac, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureCommand, captureFilter, remoteCommandLine, shellQuote } from '../../../src/node/node-ssh-shell.ts';
import { checkHostKey, knownHostsVerifier, parseKnownHosts } from '../../../src/node/known-hosts-file.ts';

const spec = { interface: 'vxlan.calico', hosts: ['10.244.0.65', '10.244.0.2'], ports: [], includeTunnel: false, maxPackets: 2000, maxSeconds: 7, snapLength: 128 };

describe('commands as argument vectors, quoted in one place', () => {
  it('quotes only what needs quoting, and single quotes safely', () => {
    expect(shellQuote(['ip', '-j', 'route', 'show'])).toBe('ip -j route show');
    expect(shellQuote(['echo', "it's", '$(id)', 'a b', '`x`', 'x;y\nz'])).toBe(`echo 'it'\\''s' '$(id)' 'a b' '\`x\`' 'x;y\nz'`);
  });

  it('wraps every command in timeout so the node kills it too, and uses sudo -n only for privileged commands of non-root users', () => {
    const cmd = { argv: ['iptables-save', '-t', 'nat'], timeoutSeconds: 10, maxOutputBytes: 1, privileged: true };
    expect(remoteCommandLine(cmd, 'root')).toBe('timeout --kill-after=2 10 iptables-save -t nat');
    expect(remoteCommandLine(cmd, 'ops')).toBe('sudo -n timeout --kill-after=2 10 iptables-save -t nat');
    expect(remoteCommandLine({ ...cmd, privileged: false }, 'ops')).toBe('timeout --kill-after=2 10 iptables-save -t nat');
    // Captures stop when we close the channel: a constant watchdog script, the command passed as "$@".
    expect(remoteCommandLine(cmd, 'root', { killOnClose: true })).toBe(`sh -c 'exec 3<&0; "$@" & p=$!; (cat <&3 >/dev/null; kill $p) >/dev/null 2>&1 & wait $p' k8snet-watch timeout --kill-after=2 10 iptables-save -t nat`);
  });

  it('builds a bounded tcpdump that streams pcap, with a filter made of validated parts', () => {
    expect(captureCommand(spec).argv).toEqual(['tcpdump', '-i', 'vxlan.calico', '-nn', '-U', '-w', '-', '-s', '128', '-c', '2000', '(host 10.244.0.65 or host 10.244.0.2)']);
    expect(captureCommand({ ...spec, netns: 'cni-1234', interface: 'eth0' }).argv.slice(0, 6)).toEqual(['ip', 'netns', 'exec', 'cni-1234', 'tcpdump', '-i']);
    expect(captureFilter({ hosts: [], ports: [31080], includeTunnel: true })).toEqual(['(port 31080) or (udp port 4789 or udp port 8472 or ip proto 4)']);
    expect(captureFilter({ hosts: [], ports: [], includeTunnel: false })).toEqual([]);
  });

  it('refuses hostile capture parts before building anything', () => {
    expect(() => captureCommand({ ...spec, interface: 'eth0;reboot' })).toThrow(/not a valid interface name/);
    expect(() => captureCommand({ ...spec, interface: '-oProxy=x' })).toThrow(/not a valid interface name/);
    expect(() => captureCommand({ ...spec, hosts: ['10.0.0.1 or net 0.0.0.0/0'] })).toThrow(/not an IP address/);
    expect(() => captureCommand({ ...spec, netns: '../../etc' })).toThrow(/not a network namespace name/);
    expect(() => captureCommand({ ...spec, maxPackets: 10_000_000 })).toThrow(/capture packets/);
    expect(() => captureCommand({ ...spec, maxSeconds: 0 })).toThrow(/capture seconds/);
  });
});

describe('known_hosts', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8snet-kh-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'a')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'b')]);
  const keyOf = (f: string) => readFileSync(join(dir, `${f}.pub`), 'utf8').split(' ')[1]!;
  const blob = (f: string) => Buffer.from(keyOf(f), 'base64');
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update('[10.0.0.12]:2222').digest('base64')}`;
  const file = join(dir, 'known_hosts');
  writeFileSync(file, [`# lab`, `k8s-node1,10.0.0.11 ssh-ed25519 ${keyOf('a')}`, `${hashed} ssh-ed25519 ${keyOf('a')}`, `@revoked 10.0.0.13 ssh-ed25519 ${keyOf('b')}`, ''].join('\n'));
  const entries = parseKnownHosts(readFileSync(file, 'utf8'));

  it('accepts the recorded key by name, by address and through a hashed [host]:port entry', () => {
    expect(checkHostKey(entries, ['10.0.0.11'], blob('a'))).toEqual({ ok: true });
    expect(checkHostKey(entries, ['k8s-node1'], blob('a'))).toEqual({ ok: true });
    expect(checkHostKey(entries, ['[10.0.0.12]:2222'], blob('a'))).toEqual({ ok: true });
  });

  it('refuses an unknown host, a changed key and a revoked key, saying which', () => {
    expect(checkHostKey(entries, ['10.0.0.99'], blob('a'))).toEqual({ ok: false, reason: 'unknown' });
    expect(checkHostKey(entries, ['10.0.0.11'], blob('b'))).toEqual({ ok: false, reason: 'changed' });
    expect(checkHostKey(entries, ['10.0.0.13'], blob('b'))).toEqual({ ok: false, reason: 'revoked' });
    const v = knownHostsVerifier(file, 'k8s-node1', '10.0.0.11', 22);
    expect(v.verify(blob('b'))).toBe(false);
    expect(v.refusal()).toMatch(/^HOST KEY CHANGED for k8s-node1 \(10\.0\.0\.11:22\)/);
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a missing known_hosts file', () => {
    expect(() => knownHostsVerifier('/nonexistent/known_hosts', 'n', '10.0.0.1', 22)).toThrow('cannot read known_hosts file /nonexistent/known_hosts: ENOENT');
  });
});

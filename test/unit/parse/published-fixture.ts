/**
 * Reads a fixture from test/unit/parse/fixtures as the command printed it. Each file keeps its provenance as a first
 * `# Source:` line, and published copies keep the shell prompt lines they were pasted with (`[root@node1 ~]# ip route`,
 * `sre@k8s-controller-01:~$ sudo ss -ltpn`, a bare `ip r | grep bird`); both are left out here, not in the files.
 */
import { readFileSync } from 'node:fs';

/** A prompt (optional) and one of the commands the fixtures were taken with, at the start of a line. */
const PROMPT_LINE =
  /^(?:(?:\[[^\]]*\]|[\w.-]+@[\w.-]+:\S*|~\]|controlplane)\s*)?(?:[$#]\s+)?(?:sudo\s+)?(?:ip|route|ss|netstat|iptables-save|kubectl|bridge|crictl|ping|ufw|ethtool)(?:\s|$)/;

export function publishedFixture(name: string): string {
  const text = readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((line, i) => !(i === 0 && line.startsWith('# Source:')) && !PROMPT_LINE.test(line))
    .join('\n');
}

/**
 * `iptables-save` parsing speed on a kube-proxy-sized nat table (16 MB: ~130 000 DNAT rules, what a node with
 * thousands of Services prints), k8snet's parser vs iptables' own parser, `iptables-restore --test` (parses and checks
 * every rule, commits nothing), on the same text, side by side. iptables-restore runs as root inside a throw-away
 * network namespace this script makes and deletes; without root or iptables it is skipped with a note.
 *
 *   node bench/iptables-parse.ts [--megabytes 16] [--runs 3]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { chainRules, parseIptablesSave } from '../src/parse/iptables-save.ts';

const { values } = parseArgs({
  options: { megabytes: { type: 'string', default: '16' }, runs: { type: 'string', default: '3' } },
});
const bytes = Number(values.megabytes) * 1024 * 1024;
const runs = Number(values.runs);

const CHAIN = 'KUBE-SEP-ABCDEFGHIJKLMNOP';
const line = `[0:0] -A ${CHAIN} -p tcp -m comment --comment "ns/svc:http" -m tcp -j DNAT --to-destination 10.244.0.5:8080\n`;
const text = `*nat\n:${CHAIN} - [0:0]\n${line.repeat(Math.ceil(bytes / line.length))}COMMIT\n`;

const best = (f: () => void): number => {
  let min = Infinity;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    f();
    min = Math.min(min, performance.now() - start);
  }
  return min;
};

const ours = best(() => {
  if (chainRules(parseIptablesSave(text), 'nat', CHAIN).length < 100_000) throw new Error('parsed too few rules');
});
console.log(`input: ${(text.length / 1024 / 1024).toFixed(1)} MB, ${Math.ceil(bytes / line.length)} rules`);
console.log(`k8snet parseIptablesSave: ${ours.toFixed(0)} ms (best of ${runs})`);

const netns = `k8snet-bench-ipt-${process.pid}`;
const root = process.getuid?.() === 0 && spawnSync('iptables-restore', ['--version']).status === 0;
if (!root) {
  console.log('iptables-restore --test: skipped (needs root and iptables)');
} else {
  execFileSync('ip', ['netns', 'add', netns]);
  try {
    const theirs = best(() => {
      const r = spawnSync('ip', ['netns', 'exec', netns, 'iptables-restore', '--test', '-w', '5'], {
        input: text.replaceAll('[0:0] ', ''),
        maxBuffer: 1 << 20,
      });
      if (r.status !== 0) throw new Error(`iptables-restore --test failed: ${r.stderr.toString().slice(0, 200)}`);
    });
    console.log(`iptables-restore --test: ${theirs.toFixed(0)} ms (best of ${runs})`);
    console.log(`ratio (their time / ours): ${(theirs / ours).toFixed(2)}× — above 1 means k8snet parses faster`);
  } finally {
    execFileSync('ip', ['netns', 'delete', netns]);
  }
}

/**
 * Throughput and memory of `summarizeCapture` against tcpdump and tshark on the same generated capture.
 *
 *   node bench/pcap-throughput.ts [--packets N] [--quick] [--no-large] [--generate-only FILE]
 *
 * Generates a capture (default 2 million packets: VXLAN-tunnelled TCP, plain TCP and UDP over many flows) in a temp
 * dir, times our summarizer (in a fresh child process, so process start-up counts as it does for tcpdump),
 * `tcpdump -r FILE -w /dev/null`, `tcpdump -nn -r FILE > /dev/null` and `tshark -r FILE -q -z conv,ip`, prints wall
 * times, packets/s and ratios, then measures peak RSS on the file and on one 10× larger. The temp dir is removed.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const DEFAULT_PACKETS = 2_000_000;
const QUICK_PACKETS = 200_000;
/** Timed runs of the fast contenders; the best one is reported (the slow text decoders run once). */
const FAST_RUNS = 3;

interface ChildResult {
  packets: number;
  flows: number;
  errors: string[];
  decodeMs: number;
  maxRssKiB: number;
}

const SELF = fileURLToPath(import.meta.url);

/**
 * Runs the summarizer in a fresh Node process. `compileCache`: a NODE_COMPILE_CACHE dir, so a warm run skips
 * Node's TypeScript stripping and compilation of our sources (bin/k8snet.js can turn it on with module.enableCompileCache()).
 */
function runChild(file: string, compileCache: string | null): { wallMs: number; result: ChildResult } {
  const env = { ...process.env };
  if (compileCache === null) delete env.NODE_COMPILE_CACHE;
  else env.NODE_COMPILE_CACHE = compileCache;
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [SELF, '--child', file], { encoding: 'utf8', maxBuffer: 1 << 20, env });
  const wallMs = performance.now() - t0;
  if (r.status !== 0) throw new Error(`summarizer child failed: ${r.stderr}`);
  return { wallMs, result: JSON.parse(r.stdout) as ChildResult };
}

function hasTool(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}

function timeTool(cmd: string, args: string[]): number | null {
  const devNull = openSync('/dev/null', 'w');
  try {
    const t0 = performance.now();
    const r = spawnSync(cmd, args, { stdio: ['ignore', devNull, 'pipe'], maxBuffer: 1 << 20 });
    const ms = performance.now() - t0;
    if (r.status !== 0) {
      console.log(`  ${cmd} exited ${r.status}: ${String(r.stderr).trim().split('\n').pop()}`);
      return null;
    }
    return ms;
  } finally {
    closeSync(devNull);
  }
}

function best(runs: number, fn: () => number | null): number | null {
  let min: number | null = null;
  for (let i = 0; i < runs; i++) {
    const ms = fn();
    if (ms === null) return null;
    min = min === null ? ms : Math.min(min, ms);
  }
  return min;
}

/** "their wall time / ours", in words either way. */
function ratioText(ratio: number): string {
  return ratio >= 1
    ? `ratio ${ratio.toFixed(2)}: k8snet is ${ratio.toFixed(1)}× faster`
    : `ratio ${ratio.toFixed(2)}: k8snet takes ${(1 / ratio).toFixed(1)}× as long`;
}

function fmt(ms: number, packets: number): string {
  return `${(ms / 1000).toFixed(2).padStart(7)} s  ${(((packets / ms) * 1000) / 1e6).toFixed(2).padStart(6)} M pkt/s`;
}

async function child(file: string): Promise<void> {
  const { summarizeCaptureFile } = await import('../src/pcap/index.ts');
  const t0 = performance.now();
  const s = await summarizeCaptureFile(file, { sampleSize: 20 });
  const decodeMs = performance.now() - t0;
  const out: ChildResult = {
    packets: s.packets,
    flows: s.flows.length,
    errors: s.errors,
    decodeMs,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(JSON.stringify(out));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-large': { type: 'boolean', default: false },
      child: { type: 'string' },
      'generate-only': { type: 'string' },
    },
  });
  if (values.child !== undefined) return child(values.child);
  const packets =
    values.packets !== undefined ? Number(values.packets) : values.quick ? QUICK_PACKETS : DEFAULT_PACKETS;
  if (!Number.isInteger(packets) || packets <= 0) throw new Error('--packets must be a positive integer');
  const { FLOWS, generate, templates } = await import('./pcap-generate.ts');
  if (values['generate-only'] !== undefined) {
    generate(values['generate-only'], packets, templates());
    return;
  }

  const dir = mkdtempSync(join(tmpdir(), 'k8snet-pcap-bench-'));
  try {
    const tpl = templates();
    const file = join(dir, 'capture.pcap');
    let t0 = performance.now();
    const size = generate(file, packets, tpl);
    console.log(
      `generated ${packets.toLocaleString('en')} packets, ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s (${FLOWS} flows, 50% VXLAN TCP, 30% TCP, 20% UDP/ICMP)`,
    );
    console.log(
      `node ${process.version}, ${spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'no tcpdump'}\n`,
    );

    const cache = join(dir, 'compile-cache');
    const cold = runChild(file, null);
    let warm = runChild(file, cache);
    for (let i = 0; i < FAST_RUNS; i++) {
      const r = runChild(file, cache);
      if (r.wallMs < warm.wallMs) warm = r;
    }
    const res = warm.result;
    if (res.packets !== packets || res.errors.length > 0)
      throw new Error(`summarizer saw ${res.packets} packets, errors ${res.errors.join('; ')}`);
    const ours = warm.wallMs;
    console.log(
      `k8snet summarizeCapture           ${fmt(ours, packets)}  (whole process, compile cache warm; ${res.flows} flows, peak RSS ${(res.maxRssKiB / 1024).toFixed(0)} MiB)`,
    );
    console.log(
      `  same, cold start                ${fmt(cold.wallMs, packets)}  (Node strips and compiles the TypeScript sources first)`,
    );
    console.log(
      `  decoding alone                  ${fmt(res.decodeMs, packets)}  (inside the process, start-up excluded)`,
    );

    const contenders: { name: string; cmd: string; args: string[]; runs: number }[] = [
      { name: 'tcpdump -r FILE -w /dev/null', cmd: 'tcpdump', args: ['-r', file, '-w', '/dev/null'], runs: FAST_RUNS },
      { name: 'tcpdump -nn -r FILE > /dev/null', cmd: 'tcpdump', args: ['-nn', '-r', file], runs: 1 },
      { name: 'tshark -r FILE -q -z conv,ip', cmd: 'tshark', args: ['-r', file, '-q', '-z', 'conv,ip'], runs: 1 },
    ];
    for (const c of contenders) {
      if (!hasTool(c.cmd)) {
        console.log(`${c.name.padEnd(33)} skipped: ${c.cmd} is not installed`);
        continue;
      }
      const ms = best(c.runs, () => timeTool(c.cmd, c.args));
      if (ms === null) continue;
      const ratio = ms / ours;
      console.log(`${c.name.padEnd(33)}${fmt(ms, packets)}  → ${ratioText(ratio)}`);
    }

    if (!values['no-large']) {
      rmSync(file);
      const large = join(dir, 'capture-10x.pcap');
      t0 = performance.now();
      const largeSize = generate(large, packets * 10, tpl);
      console.log(
        `\ngenerated ${(packets * 10).toLocaleString('en')} packets, ${(largeSize / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
      const big = runChild(large, cache);
      console.log(
        `k8snet summarizeCapture (10×)     ${fmt(big.wallMs, packets * 10)}  (peak RSS ${(big.result.maxRssKiB / 1024).toFixed(0)} MiB vs ${(res.maxRssKiB / 1024).toFixed(0)} MiB on the 1× file; ${big.result.flows} flows)`,
      );
      const tcpdumpLarge = hasTool('tcpdump') ? timeTool('tcpdump', ['-r', large, '-w', '/dev/null']) : null;
      if (tcpdumpLarge !== null) {
        const ratio = tcpdumpLarge / big.wallMs;
        console.log(`tcpdump -r FILE -w /dev/null (10×)${fmt(tcpdumpLarge, packets * 10)}  → ${ratioText(ratio)}`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

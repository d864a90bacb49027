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
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  icmpEcho,
  ipv4Packet,
  ethernetIpv4,
  pcapHeader,
  tcpSegment,
  udpDatagram,
  vxlanFrame,
} from '../src/pcap/capture-builder.ts';
import { PROTO_ICMP, PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_PSH } from '../src/pcap/packet-decoder.ts';
import { summarizeCaptureFile } from '../src/pcap/index.ts';

const DEFAULT_PACKETS = 2_000_000;
const QUICK_PACKETS = 200_000;
/** Flows in the generated capture: many more than a trace capture holds, well under MAX_FLOWS. */
const FLOWS = 1000;
/** Bytes buffered before each write while generating. */
const WRITE_BUFFER_BYTES = 8 * 1024 * 1024;
/** Timed runs of the fast contenders; the best one is reported (the slow text decoders run once). */
const FAST_RUNS = 3;

interface Template {
  record: Buffer;
  /** Offset of the TCP sequence number inside `record` (patched per packet so sequences advance), or -1. */
  seqOffset: number;
}

function template(frame: Buffer, tcpOffsetInFrame: number): Template {
  const record = Buffer.alloc(16 + frame.length);
  record.writeUInt32LE(frame.length, 8);
  record.writeUInt32LE(frame.length, 12);
  frame.copy(record, 16);
  return { record, seqOffset: tcpOffsetInFrame < 0 ? -1 : 16 + tcpOffsetInFrame + 4 };
}

/** Three packets per flow: client data, server ACK, server data; half the flows inside VXLAN. */
function templates(): Template[] {
  const out: Template[] = [];
  for (let f = 0; f < FLOWS; f++) {
    const client = `10.244.${1 + (f % 3)}.${2 + (f % 200)}`;
    const server = `10.244.0.${2 + (f % 50)}`;
    const cport = 30000 + f;
    const kind = f % 10;
    if (kind < 8) {
      const vxlan = kind < 5;
      const seg = (src: string, dst: string, sport: number, dport: number, flags: number, payload: number) => {
        const inner = ethernetIpv4(ipv4Packet(src, dst, PROTO_TCP, tcpSegment({ sport, dport, flags, ack: 1, payload })));
        if (!vxlan) return template(inner, 14 + 20);
        const fromClient = src === client;
        const frame = vxlanFrame(fromClient ? '192.168.1.11' : '192.168.1.12', fromClient ? '192.168.1.12' : '192.168.1.11', 40000 + (f % 20000), 4096, inner);
        return template(frame, 14 + 20 + 8 + 8 + 14 + 20);
      };
      out.push(seg(client, server, cport, 80, TCP_PSH | TCP_ACK, 64));
      out.push(seg(server, client, 80, cport, TCP_ACK, 0));
      out.push(seg(server, client, 80, cport, TCP_PSH | TCP_ACK, 200));
    } else if (kind < 9) {
      out.push(template(ethernetIpv4(ipv4Packet(client, '10.96.0.10', PROTO_UDP, udpDatagram(cport, 53, 40))), -1));
      out.push(template(ethernetIpv4(ipv4Packet('10.96.0.10', client, PROTO_UDP, udpDatagram(53, cport, 120))), -1));
      out.push(template(ethernetIpv4(ipv4Packet(client, '10.96.0.10', PROTO_UDP, udpDatagram(cport, 53, 40))), -1));
    } else {
      out.push(template(ethernetIpv4(ipv4Packet(client, server, PROTO_ICMP, icmpEcho(true, f, 1))), -1));
      out.push(template(ethernetIpv4(ipv4Packet(server, client, PROTO_ICMP, icmpEcho(false, f, 1))), -1));
      out.push(template(ethernetIpv4(ipv4Packet(client, server, PROTO_UDP, udpDatagram(cport, 8080, 16))), -1));
    }
  }
  return out;
}

/** Writes `packets` records cycling through the templates, one microsecond apart, sequences advancing. */
function generate(path: string, packets: number, tpl: Template[]): number {
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, pcapHeader({ snapLength: 262144 }));
    const buf = Buffer.alloc(WRITE_BUFFER_BYTES);
    let used = 0;
    const baseSec = 1_764_000_000;
    for (let i = 0; i < packets; i++) {
      const t = tpl[i % tpl.length]!;
      if (used + t.record.length > buf.length) {
        writeSync(fd, buf, 0, used);
        used = 0;
      }
      t.record.copy(buf, used);
      buf.writeUInt32LE(baseSec + Math.floor(i / 1_000_000), used);
      buf.writeUInt32LE(i % 1_000_000, used + 4);
      if (t.seqOffset >= 0) buf.writeUInt32BE((Math.floor(i / tpl.length) * 1000) >>> 0, used + t.seqOffset);
      used += t.record.length;
    }
    writeSync(fd, buf, 0, used);
  } finally {
    closeSync(fd);
  }
  return statSync(path).size;
}

interface ChildResult {
  packets: number;
  flows: number;
  errors: string[];
  decodeMs: number;
  maxRssKiB: number;
}

const SELF = fileURLToPath(import.meta.url);

function runChild(file: string): { wallMs: number; result: ChildResult } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [SELF, '--child', file], { encoding: 'utf8', maxBuffer: 1 << 20 });
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

function fmt(ms: number, packets: number): string {
  return `${(ms / 1000).toFixed(2).padStart(7)} s  ${((packets / ms) * 1000 / 1e6).toFixed(2).padStart(6)} M pkt/s`;
}

async function child(file: string): Promise<void> {
  const t0 = performance.now();
  const s = await summarizeCaptureFile(file, { sampleSize: 20 });
  const decodeMs = performance.now() - t0;
  const out: ChildResult = { packets: s.packets, flows: s.flows.length, errors: s.errors, decodeMs, maxRssKiB: process.resourceUsage().maxRSS };
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
  const packets = values.packets !== undefined ? Number(values.packets) : values.quick ? QUICK_PACKETS : DEFAULT_PACKETS;
  if (!Number.isInteger(packets) || packets <= 0) throw new Error('--packets must be a positive integer');
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
    console.log(`generated ${packets.toLocaleString('en')} packets, ${(size / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s (${FLOWS} flows, 50% VXLAN TCP, 30% TCP, 20% UDP/ICMP)`);
    console.log(`node ${process.version}, ${spawnSync('tcpdump', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'no tcpdump'}\n`);

    let ours = { wallMs: Infinity, result: null as ChildResult | null };
    for (let i = 0; i < FAST_RUNS; i++) {
      const r = runChild(file);
      if (r.wallMs < ours.wallMs) ours = r;
    }
    const res = ours.result!;
    if (res.packets !== packets || res.errors.length > 0) throw new Error(`summarizer saw ${res.packets} packets, errors ${res.errors.join('; ')}`);
    console.log(`k8snet summarizeCapture           ${fmt(ours.wallMs, packets)}  (decode ${(res.decodeMs / 1000).toFixed(2)} s, ${res.flows} flows, peak RSS ${(res.maxRssKiB / 1024).toFixed(0)} MiB)`);

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
      const ratio = ms / ours.wallMs;
      console.log(`${c.name.padEnd(33)}${fmt(ms, packets)}  → k8snet is ${ratio.toFixed(1)}× ${ratio >= 1 ? 'faster' : 'slower'}`);
    }

    if (!values['no-large']) {
      rmSync(file);
      const large = join(dir, 'capture-10x.pcap');
      t0 = performance.now();
      const largeSize = generate(large, packets * 10, tpl);
      console.log(`\ngenerated ${(packets * 10).toLocaleString('en')} packets, ${(largeSize / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const big = runChild(large);
      console.log(`k8snet summarizeCapture (10×)     ${fmt(big.wallMs, packets * 10)}  (peak RSS ${(big.result.maxRssKiB / 1024).toFixed(0)} MiB vs ${(res.maxRssKiB / 1024).toFixed(0)} MiB on the 1× file)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

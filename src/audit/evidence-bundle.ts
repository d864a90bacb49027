/**
 * A job's evidence as one .tar.gz: every node command (argv as run, node, start, duration, exit status, stdout,
 * stderr), every Kubernetes read (as YAML), every pcap, the result JSON and the findings and report as text — what
 * someone needs to check the answer without rerunning it. Size-capped: past the budget, entries are left out and
 * README.txt lists them. Tokens and keys never go in: every text entry passes through `redact` (the deployment's
 * own secrets by value, and anything shaped like a Slack token or a private key).
 *
 * tar-stream writes the archive (POSIX ustar headers, long names, streaming) and zlib compresses it.
 *
 *   k8snet-evidence-<job>/README.txt            what ran, for whom, when; what was left out and why
 *   k8snet-evidence-<job>/job.json              the job: id, command, who asked where, start and end
 *   k8snet-evidence-<job>/result.json           the structured result (the --json contract)
 *   k8snet-evidence-<job>/findings.txt          the findings, most severe first, with their evidence lines
 *   k8snet-evidence-<job>/report.txt            the whole report as the terminal shows it
 *   k8snet-evidence-<job>/commands.tsv          one line per node command: n, node, start, ms, status, argv
 *   k8snet-evidence-<job>/commands/NNN-<node>.txt   each command: header, stdout, stderr
 *   k8snet-evidence-<job>/cluster/NNN-<call>.yaml   each Kubernetes read: call, arguments, what came back
 *   k8snet-evidence-<job>/captures/<file>.pcap  each capture, as attached in the thread
 */
import { createGzip } from 'node:zlib';
import { pack } from 'tar-stream';
import { stringify } from 'yaml';
import type { Report } from '../model/report.ts';
import { sortFindings } from '../model/report.ts';
import { renderReportText } from '../render/terminal.ts';
import type { ClusterRead } from '../ops/recording-cluster.ts';
import type { NodeCommandEvidence } from './audited-shell.ts';

/** The whole bundle's contents before compression: a thread-sized file, and small enough to keep in Redis a day. */
export const BUNDLE_MAX_BYTES = 8 * 1024 * 1024;
/** One command's stdout or stderr in the bundle; the catalogue's own caps are below this for most commands. */
export const BUNDLE_OUTPUT_CAP_BYTES = 512 * 1024;

export interface EvidenceJob {
  jobId: string;
  /** The command as typed (`trace pod-src pod-dest --capture-seconds 2`). */
  command: string;
  user: string;
  channel: string;
  startedAt: string;
  finishedAt: string;
  outcome: string;
}

export interface Evidence {
  job: EvidenceJob;
  commands: readonly NodeCommandEvidence[];
  reads: readonly ClusterRead[];
  result: unknown;
  report: Report | null;
  /** Values that must never appear (tokens, signing secret, key passphrase): replaced wherever they occur. */
  secrets: readonly string[];
}

const SECRET_SHAPES = [
  /\bxox[abposre]-[A-Za-z0-9-]+/g,
  /\bxapp-[A-Za-z0-9-]+/g,
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g,
];

/** Secrets out of a text: known values by value (longest first), then anything shaped like a token or a key. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of [...secrets].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length))
    out = out.split(s).join('[redacted]');
  for (const shape of SECRET_SHAPES) out = out.replace(shape, '[redacted]');
  return out;
}

interface Entry {
  name: string;
  data: Buffer;
  /** Text entries are redacted; pcaps are headers only (snap length) and binary. */
  text: boolean;
}

const safe = (s: string) =>
  s
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60) || 'x';
const pad = (n: number) => String(n).padStart(3, '0');

function capped(label: string, text: string | undefined, omitted: string[]): string {
  if (text === undefined) return '';
  const bytes = Buffer.byteLength(text);
  if (bytes <= BUNDLE_OUTPUT_CAP_BYTES) return text;
  omitted.push(`${label}: ${bytes - BUNDLE_OUTPUT_CAP_BYTES} bytes past the first ${BUNDLE_OUTPUT_CAP_BYTES}`);
  return `${Buffer.from(text).subarray(0, BUNDLE_OUTPUT_CAP_BYTES).toString()}\n[… cut at ${BUNDLE_OUTPUT_CAP_BYTES} bytes]\n`;
}

function status(c: NodeCommandEvidence): string {
  if (c.error) return `error: ${c.error}`;
  if (c.timedOut) return 'timed out';
  return `exit ${c.exitCode ?? '?'}`;
}

function commandEntry(c: NodeCommandEvidence, i: number, omitted: string[]): Entry {
  const label = `commands/${pad(i + 1)}-${safe(c.node)}.txt`;
  const head = [
    `node: ${c.node}`,
    `argv: ${JSON.stringify(c.argv ?? [])}`,
    `command: ${c.command}`,
    `started: ${c.startedAt ?? '?'}`,
    `duration: ${c.durationMs} ms`,
    `status: ${status(c)}`,
    ...(c.truncated ? ["stdout: cut at the command's output cap on the node"] : []),
  ];
  const body = `${head.join('\n')}\n\n--- stdout ---\n${capped(`${label} stdout`, c.stdout, omitted)}\n--- stderr ---\n${capped(`${label} stderr`, c.stderr, omitted)}`;
  return { name: label, data: Buffer.from(body), text: true };
}

function findingsText(report: Report | null): string {
  if (!report) return '(no report)\n';
  const lines = sortFindings(report.findings).map(
    (f) =>
      `${f.severity.toUpperCase()} ${f.code}: ${f.message}${f.evidence ? `\n    ${f.evidence.split('\n').join('\n    ')}` : ''}`,
  );
  return `${report.headline}\n\n${lines.join('\n') || '(no findings)'}\n`;
}

/** Plans the entries within the budget: the small, decisive ones first, then commands, reads, captures. */
function plan(e: Evidence): { entries: Entry[]; omitted: string[] } {
  const omitted: string[] = [];
  const wanted: Entry[] = [
    { name: 'job.json', data: Buffer.from(`${JSON.stringify(e.job, null, 2)}\n`), text: true },
    {
      name: 'result.json',
      data: Buffer.from(
        `${JSON.stringify(e.result ?? null, (_k, v: unknown) => (Buffer.isBuffer(v) ? `[${v.length} bytes]` : v), 2)}\n`,
      ),
      text: true,
    },
    { name: 'findings.txt', data: Buffer.from(findingsText(e.report)), text: true },
    ...(e.report ? [{ name: 'report.txt', data: Buffer.from(renderReportText(e.report)), text: true }] : []),
    {
      name: 'commands.tsv',
      data: Buffer.from(
        `n\tnode\tstarted\tms\tstatus\targv\n${e.commands.map((c, i) => [i + 1, c.node, c.startedAt ?? '?', c.durationMs, status(c), c.command].join('\t')).join('\n')}\n`,
      ),
      text: true,
    },
    ...e.commands.map((c, i) => commandEntry(c, i, omitted)),
    // Numbered in the order the operation asked, not the order the API server answered.
    ...[...e.reads]
      .sort((a, b) => a.seq - b.seq)
      .map((r, i) => ({
        name: `cluster/${pad(i + 1)}-${safe(r.call)}.yaml`,
        data: Buffer.from(
          stringify({
            call: r.call,
            args: r.args,
            at: r.at,
            durationMs: r.durationMs,
            ...(r.error ? { error: r.error } : { result: r.result ?? null }),
          }),
        ),
        text: true,
      })),
    ...(e.report?.attachments ?? []).map((a) => ({ name: `captures/${safe(a.filename)}`, data: a.data, text: false })),
  ];
  const entries: Entry[] = [];
  // README.txt is written last but counted first.
  let used = 16 * 1024;
  for (const w of wanted) {
    const data = w.text ? Buffer.from(redact(w.data.toString(), e.secrets)) : w.data;
    if (used + data.length > BUNDLE_MAX_BYTES) {
      omitted.push(`${w.name}: ${data.length} bytes (the bundle is capped at ${BUNDLE_MAX_BYTES} bytes)`);
      continue;
    }
    used += data.length;
    entries.push({ ...w, data });
  }
  return { entries, omitted };
}

function readme(e: Evidence, entries: Entry[], omitted: string[]): string {
  return redact(
    [
      `k8snet evidence bundle for job ${e.job.jobId}`,
      '',
      `command:   ${e.job.command}`,
      `asked by:  ${e.job.user} in ${e.job.channel}`,
      `ran:       ${e.job.startedAt} → ${e.job.finishedAt} (${e.job.outcome})`,
      `holds:     ${e.commands.length} node command(s), ${e.reads.length} Kubernetes read(s), ${(e.report?.attachments ?? []).length} capture(s)`,
      '',
      'Files:',
      ...entries.map((x) => `  ${x.name}  (${x.data.length} bytes)`),
      '',
      omitted.length === 0 ? 'Left out: nothing.' : 'Left out:',
      ...omitted.map((o) => `  ${o}`),
      '',
      'Never in a bundle: Slack tokens, the signing secret, SSH keys and passphrases, Kubernetes Secrets.',
      '',
    ].join('\n'),
    e.secrets,
  );
}

export async function buildEvidenceBundle(e: Evidence): Promise<Buffer> {
  const { entries, omitted } = plan(e);
  const root = `k8snet-evidence-${safe(e.job.jobId)}`;
  const tar = pack();
  const gzip = createGzip();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    gzip.on('data', (c: Buffer) => chunks.push(c));
    gzip.on('end', () => resolve(Buffer.concat(chunks)));
    gzip.on('error', reject);
    tar.on('error', reject);
  });
  tar.pipe(gzip);
  const mtime = new Date(e.job.finishedAt);
  for (const x of [{ name: 'README.txt', data: Buffer.from(readme(e, entries, omitted)), text: true }, ...entries]) {
    tar.entry(
      {
        name: `${root}/${x.name}`,
        size: x.data.length,
        mode: 0o644,
        mtime: Number.isNaN(mtime.getTime()) ? new Date() : mtime,
      },
      x.data,
    );
  }
  tar.finalize();
  return done;
}

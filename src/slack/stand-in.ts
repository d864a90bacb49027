/**
 * A local stand-in for the Slack Web API that speaks Slack's wire format: `ok`/`error` JSON, the bot token checked
 * on every call (invalid_auth otherwise), form or JSON bodies, and the external file upload flow. It records every
 * call and can answer 429 with Retry-After, so tests and `k8snet demo` exercise the real SDK end to end.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface RecordedCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

export interface SlackStandIn {
  /** Base URL of the Web API, ending in /api/ (SLACK_API_URL). */
  apiUrl: string;
  /** A response_url for slash commands. */
  responseUrl: string;
  calls: RecordedCall[];
  /** Web API method names in the order their requests arrived (before any delay), answered or not. */
  arrivals: string[];
  /** Messages by channel and ts, as last posted or updated. */
  messages: Map<string, { channel: string; ts: string; thread_ts?: string; text?: string; blocks?: unknown }>;
  uploads: Map<string, { filename: string; bytes: Buffer; title?: string }>;
  /** The next `count` calls to `method` answer 429 with Retry-After: seconds. */
  rateLimit(method: string, count: number, retryAfterSeconds: number): void;
  /** Answers to usergroups.users.list. */
  setUserGroup(id: string, members: string[]): void;
  /** Every later call to `method` is answered this many ms late (slow Slack). */
  delay(method: string, ms: number): void;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function parseArgs(req: IncomingMessage, body: Buffer): Record<string, unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/json')) return JSON.parse(body.toString() || '{}') as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(body.toString())) {
    // The SDK sends blocks and other structures as JSON strings in form bodies.
    out[k] = /^[[{]/.test(v) ? (() => { try { return JSON.parse(v); } catch { return v; } })() : v;
  }
  return out;
}

/** The upload URL takes the file raw or as multipart/form-data (what the SDK sends); either way, its bytes. */
async function uploadedBytes(req: IncomingMessage, body: Buffer): Promise<Buffer> {
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('multipart/form-data')) return body;
  const form = await new Response(new Uint8Array(body), { headers: { 'content-type': type } }).formData();
  for (const value of form.values()) if (typeof value !== 'string') return Buffer.from(await value.arrayBuffer());
  return Buffer.alloc(0);
}

export async function startSlackStandIn(options: { botToken: string; port?: number }): Promise<SlackStandIn> {
  const calls: RecordedCall[] = [];
  const arrivals: string[] = [];
  const messages: SlackStandIn['messages'] = new Map();
  const uploads: SlackStandIn['uploads'] = new Map();
  const limits = new Map<string, { count: number; retryAfter: number }>();
  const groups = new Map<string, string[]>();
  const delays = new Map<string, number>();
  let seq = 0;
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
  let base = '';

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const json = (status: number, payload: object, headers: Record<string, string> = {}) => res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
      if (url.pathname.startsWith('/upload/')) {
        const id = url.pathname.slice('/upload/'.length);
        const u = uploads.get(id);
        if (!u) return json(404, { ok: false, error: 'unknown_upload' });
        u.bytes = await uploadedBytes(req, body);
        calls.push({ method: 'upload', args: { file_id: id, bytes: u.bytes.length }, at: Date.now() });
        return res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${u.bytes.length}`);
      }
      if (url.pathname === '/response') {
        calls.push({ method: 'response_url', args: JSON.parse(body.toString() || '{}') as Record<string, unknown>, at: Date.now() });
        return res.writeHead(200).end('ok');
      }
      const method = url.pathname.replace(/^\/api\//, '');
      arrivals.push(method);
      const args = parseArgs(req, body);
      const limit = limits.get(method);
      if (limit && limit.count > 0) {
        limit.count--;
        calls.push({ method: `${method} (429)`, args, at: Date.now() });
        return json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(limit.retryAfter) });
      }
      const late = delays.get(method);
      if (late) await new Promise((r) => setTimeout(r, late));
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || String(args.token ?? '');
      if (token !== options.botToken) return json(200, { ok: false, error: 'invalid_auth' });
      calls.push({ method, args, at: Date.now() });
      switch (method) {
        case 'auth.test':
          return json(200, { ok: true, url: 'https://k8snet-stand-in.slack.com/', team: 'stand-in', user: 'k8snet', team_id: 'T0STANDIN', user_id: 'U0K8SNET', bot_id: 'B0K8SNET' });
        case 'chat.postMessage': {
          const ts = nextTs();
          const m = { channel: String(args.channel), ts, ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}), text: args.text as string, blocks: args.blocks };
          messages.set(`${m.channel}/${ts}`, m);
          return json(200, { ok: true, channel: m.channel, ts, message: { text: m.text, ts } });
        }
        case 'chat.update': {
          const key = `${String(args.channel)}/${String(args.ts)}`;
          const m = messages.get(key);
          if (!m) return json(200, { ok: false, error: 'message_not_found' });
          messages.set(key, { ...m, text: args.text as string, blocks: args.blocks });
          return json(200, { ok: true, channel: m.channel, ts: m.ts });
        }
        case 'usergroups.users.list': {
          const members = groups.get(String(args.usergroup));
          return json(200, members ? { ok: true, users: members } : { ok: false, error: 'no_such_subteam' });
        }
        case 'chat.postEphemeral':
          return json(200, { ok: true, message_ts: nextTs() });
        case 'files.getUploadURLExternal': {
          const id = `F${String(++seq).padStart(8, '0')}`;
          uploads.set(id, { filename: String(args.filename), bytes: Buffer.alloc(0) });
          return json(200, { ok: true, upload_url: `${base}/upload/${id}`, file_id: id });
        }
        case 'files.completeUploadExternal': {
          const files = (args.files as { id: string; title?: string }[]) ?? [];
          for (const f of files) {
            const u = uploads.get(f.id);
            if (u && f.title) u.title = f.title;
          }
          return json(200, { ok: true, files: files.map((f) => ({ id: f.id, title: f.title })) });
        }
        default:
          return json(200, { ok: false, error: 'unknown_method' });
      }
    })().catch((err: Error) => res.writeHead(500).end(err.message));
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    apiUrl: `${base}/api/`,
    responseUrl: `${base}/response`,
    calls,
    arrivals,
    messages,
    uploads,
    rateLimit(method, count, retryAfterSeconds) {
      limits.set(method, { count, retryAfter: retryAfterSeconds });
    },
    setUserGroup(id, members) {
      groups.set(id, members);
    },
    delay(method, ms) {
      delays.set(method, ms);
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

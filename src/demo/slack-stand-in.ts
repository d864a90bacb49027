/**
 * A local stand-in for the Slack Web API that speaks Slack's wire format: `ok`/`error` JSON, the bot token checked
 * on every call (invalid_auth otherwise), form or JSON bodies, and the external file upload flow. It records every
 * call and can answer 429 with Retry-After, so tests and `k8snet demo` exercise the real SDK end to end.
 *
 * Started with an app-level token (`xapp-…`) it also serves Socket Mode as Slack does: `apps.connections.open`
 * (app token in the Authorization header) hands out a single-use `ws://…/link/?ticket=…` URL on the same port; the
 * socket gets Slack's `hello`, server pings, envelopes (`deliverSlashCommand`) and `disconnect` messages, and every
 * acknowledgement (`{envelope_id, payload?}`) the client sends back is recorded.
 *
 * Button clicks: `click` posts Slack's `block_actions` payload (form-encoded `payload=` JSON, signed and timestamped
 * as Slack signs it) to the app's request URL for a button of a message it holds; `deliverClick` sends the same
 * payload as an `interactive` Socket Mode envelope.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import { signedInteraction, type SlashCommandFields } from '../slack/signing.ts';

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
  /** The bot is not a member of `channel`: posts there answer not_in_channel, as Slack does. */
  leaveChannel(channel: string): void;
  /** Socket Mode acknowledgements received, in order (started with `appToken` only). */
  socketAcks: SocketAck[];
  /** Resolves once `count` Socket Mode clients are connected and have been sent `hello`. */
  socketConnected(count?: number, timeoutMs?: number): Promise<void>;
  /**
   * Sends a `slash_commands` envelope (the payload carries the same fields as the HTTP form) to a connected Socket
   * Mode client and resolves with its acknowledgement; rejects when none comes within `timeoutMs` (Slack's 3 s).
   */
  deliverSlashCommand(fields: SlashCommandFields, options?: { timeoutMs?: number }): Promise<SocketAck>;
  /**
   * A person clicks a button on a message the app posted: the stand-in finds the button by action id in the message's
   * blocks as last posted or updated, and posts Slack's `block_actions` payload to the app's request URL, signed with
   * `signingSecret` (form-encoded `payload=`). `value` replaces the button's value (a tampered click).
   */
  click(options: ClickOptions): Promise<{ status: number; body: string; ms: number }>;
  /** The same click over Socket Mode: an `interactive` envelope, resolved with its acknowledgement (within 3 s). */
  deliverClick(
    options: Pick<ClickOptions, 'channel' | 'ts' | 'actionId' | 'user' | 'value'>,
    delivery?: { timeoutMs?: number },
  ): Promise<SocketAck>;
  /** Sends Slack's `disconnect` message to every Socket Mode client (Slack then expects them to reconnect). */
  disconnectSockets(reason?: 'refresh_requested' | 'warning' | 'link_disabled'): void;
  close(): Promise<void>;
}

export interface ClickOptions {
  /** The app's interactivity request URL (the bot's /slack/events). */
  url: string;
  signingSecret: string;
  channel: string;
  /** The message carrying the button. */
  ts: string;
  actionId: string;
  user: string;
  value?: string;
  /** Seconds to back-date the request timestamp. */
  age?: number;
}

interface Button {
  type: string;
  action_id: string;
  value?: string;
  text?: unknown;
}

/** The button with `actionId` in a message's blocks, and its block's id. */
function findButton(blocks: unknown, actionId: string): { button: Button; blockId: string } | null {
  for (const b of Array.isArray(blocks)
    ? (blocks as { type?: string; block_id?: string; elements?: Button[] }[])
    : []) {
    if (b.type !== 'actions') continue;
    const button = b.elements?.find((e) => e.type === 'button' && e.action_id === actionId);
    if (button) return { button, blockId: b.block_id ?? '' };
  }
  return null;
}

export interface SocketAck {
  envelope_id: string;
  payload?: Record<string, unknown>;
  /** Milliseconds from sending the envelope to receiving this acknowledgement. */
  ms: number;
}

/**
 * The SDK's SocketModeClient drops a connection that hears no server ping for 30 s (serverPingTimeout); Slack pings
 * well inside that, and so does the stand-in.
 */
export const SOCKET_PING_INTERVAL_MS = 10_000;
/** Slack shows the user a timeout when a slash command is not acknowledged within 3 seconds. */
export const SLACK_ACK_DEADLINE_MS = 3000;
/** The app id the stand-in reports (`connection_info.app_id`, `api_app_id` in payloads). */
const STAND_IN_APP_ID = 'A0STANDIN';

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
    out[k] = /^[[{]/.test(v)
      ? (() => {
          try {
            return JSON.parse(v);
          } catch {
            return v;
          }
        })()
      : v;
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

interface SocketModeServer {
  /** Answers apps.connections.open for a request carrying `token` in its Authorization header. */
  open(authorization: string | undefined): { ok: true; url: string } | { ok: false; error: string };
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  acks: SocketAck[];
  connected(count: number, timeoutMs: number): Promise<void>;
  deliver(
    type: 'slash_commands' | 'interactive',
    payload: Record<string, unknown>,
    timeoutMs: number,
  ): Promise<SocketAck>;
  disconnect(reason: string): void;
  close(): void;
}

/** Socket Mode as Slack serves it: single-use tickets, `hello`, envelopes out, acknowledgements in. */
function socketModeServer(appToken: string, baseUrl: () => string): SocketModeServer {
  const wss = new WebSocketServer({ noServer: true });
  const tickets = new Set<string>();
  const ready = new Set<WebSocket>();
  const acks: SocketAck[] = [];
  const pending = new Map<string, (ack: SocketAck) => void>();
  const pinger = setInterval(() => {
    for (const ws of ready) ws.ping();
  }, SOCKET_PING_INTERVAL_MS).unref();

  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: { envelope_id?: unknown; payload?: unknown };
      try {
        msg = JSON.parse(data.toString()) as typeof msg;
      } catch {
        return; // Slack ignores what it cannot parse; so does the stand-in.
      }
      if (typeof msg.envelope_id !== 'string') return;
      const resolve = pending.get(msg.envelope_id);
      if (!resolve) return; // an ack for an envelope we never sent or already timed out
      pending.delete(msg.envelope_id);
      resolve({
        envelope_id: msg.envelope_id,
        ...(msg.payload && typeof msg.payload === 'object' ? { payload: msg.payload as Record<string, unknown> } : {}),
        ms: 0,
      });
    });
    ws.on('close', () => ready.delete(ws));
    ready.add(ws);
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: ready.size,
        debug_info: { host: 'applink-stand-in', build_number: 1, approximate_connection_time: 3600 },
        connection_info: { app_id: STAND_IN_APP_ID },
      }),
    );
  });

  return {
    open(authorization) {
      // Slack takes the app-level token from the Authorization header only; a bot token is the wrong type.
      const token = (authorization ?? '').replace(/^Bearer /, '');
      if (token === '') return { ok: false, error: 'not_authed' };
      if (!token.startsWith('xapp-')) return { ok: false, error: 'not_allowed_token_type' };
      if (token !== appToken) return { ok: false, error: 'invalid_auth' };
      const ticket = randomUUID();
      tickets.add(ticket);
      return {
        ok: true,
        url: `${baseUrl().replace(/^http:/, 'ws:')}/link/?ticket=${ticket}&app_id=${STAND_IN_APP_ID}`,
      };
    },
    upgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const ticket = url.searchParams.get('ticket') ?? '';
      if (url.pathname !== '/link/' || !tickets.delete(ticket)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
    },
    acks,
    async connected(count, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      while (ready.size < count) {
        if (Date.now() > deadline)
          throw new Error(`no ${count} Socket Mode connection(s) within ${timeoutMs} ms (have ${ready.size})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    deliver(type, payload, timeoutMs) {
      // The newest open connection (an older one may be on its way out after a `disconnect`).
      const ws = [...ready].reverse().find((w) => w.readyState === WebSocket.OPEN);
      if (!ws) return Promise.reject(new Error('no Socket Mode client is connected'));
      const envelope_id = randomUUID();
      const sent = performance.now();
      return new Promise<SocketAck>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(envelope_id);
          reject(new Error(`envelope ${envelope_id} (${type}) was not acknowledged within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(envelope_id, (ack) => {
          clearTimeout(timer);
          const recorded = { ...ack, ms: performance.now() - sent };
          acks.push(recorded);
          resolve(recorded);
        });
        ws.send(JSON.stringify({ envelope_id, type, payload, accepts_response_payload: type === 'slash_commands' }));
      });
    },
    disconnect(reason) {
      for (const ws of ready)
        ws.send(JSON.stringify({ type: 'disconnect', reason, debug_info: { host: 'applink-stand-in' } }));
    },
    close() {
      clearInterval(pinger);
      for (const ws of wss.clients) ws.terminate();
      wss.close();
    },
  };
}

export async function startSlackStandIn(options: {
  botToken: string;
  port?: number;
  appToken?: string;
}): Promise<SlackStandIn> {
  const calls: RecordedCall[] = [];
  const arrivals: string[] = [];
  const messages: SlackStandIn['messages'] = new Map();
  const uploads: SlackStandIn['uploads'] = new Map();
  const limits = new Map<string, { count: number; retryAfter: number }>();
  const groups = new Map<string, string[]>();
  const delays = new Map<string, number>();
  const notIn = new Set<string>();
  let seq = 0;
  const nextTs = () => `${Math.floor(Date.now() / 1000)}.${String(++seq).padStart(6, '0')}`;
  let base = '';
  const socketMode = options.appToken === undefined ? null : socketModeServer(options.appToken, () => base);
  const needSocketMode = (): SocketModeServer => {
    if (!socketMode) throw new Error('the stand-in was started without appToken: no Socket Mode');
    return socketMode;
  };

  /** Slack's block_actions payload for a click on a button of a message as last posted or updated. */
  const blockActions = (o: Pick<ClickOptions, 'channel' | 'ts' | 'actionId' | 'user' | 'value'>, now: number) => {
    const m = messages.get(`${o.channel}/${o.ts}`);
    if (!m) throw new Error(`no message ${o.channel}/${o.ts} to click on`);
    const found = findButton(m.blocks, o.actionId);
    if (!found) throw new Error(`message ${o.channel}/${o.ts} has no button ${o.actionId}`);
    const thread = m.thread_ts ? { thread_ts: m.thread_ts } : {};
    return {
      type: 'block_actions',
      user: { id: o.user, username: o.user.toLowerCase(), name: o.user.toLowerCase(), team_id: 'T1' },
      api_app_id: STAND_IN_APP_ID,
      token: 'deprecated-verification-token',
      container: { type: 'message', message_ts: m.ts, channel_id: m.channel, is_ephemeral: false, ...thread },
      trigger_id: `${now}.1.${randomUUID().slice(0, 8)}`,
      team: { id: 'T1', domain: 'stand-in' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: m.channel, name: m.channel.toLowerCase() },
      message: {
        type: 'message',
        user: 'U0K8SNET',
        bot_id: 'B0K8SNET',
        ts: m.ts,
        ...thread,
        text: m.text,
        blocks: m.blocks,
      },
      state: { values: {} },
      response_url: `${base}/response`,
      actions: [
        {
          type: 'button',
          action_id: o.actionId,
          block_id: found.blockId,
          text: found.button.text,
          value: o.value ?? found.button.value,
          action_ts: `${now}.000100`,
        },
      ],
    };
  };

  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://stand-in');
      const json = (status: number, payload: object, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(payload));
      if (url.pathname.startsWith('/upload/')) {
        const id = url.pathname.slice('/upload/'.length);
        const u = uploads.get(id);
        if (!u) return json(404, { ok: false, error: 'unknown_upload' });
        u.bytes = await uploadedBytes(req, body);
        calls.push({ method: 'upload', args: { file_id: id, bytes: u.bytes.length }, at: Date.now() });
        return res.writeHead(200, { 'content-type': 'text/plain' }).end(`OK - ${u.bytes.length}`);
      }
      if (url.pathname === '/response') {
        calls.push({
          method: 'response_url',
          args: JSON.parse(body.toString() || '{}') as Record<string, unknown>,
          at: Date.now(),
        });
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
      if (socketMode && method === 'apps.connections.open') {
        const answer = socketMode.open(req.headers.authorization);
        if (answer.ok) calls.push({ method, args, at: Date.now() });
        return json(200, answer);
      }
      const token = (req.headers.authorization ?? '').replace(/^Bearer /, '') || String(args.token ?? '');
      if (token !== options.botToken) return json(200, { ok: false, error: 'invalid_auth' });
      calls.push({ method, args, at: Date.now() });
      switch (method) {
        case 'auth.test':
          return json(200, {
            ok: true,
            url: 'https://k8snet-stand-in.slack.com/',
            team: 'stand-in',
            user: 'k8snet',
            team_id: 'T0STANDIN',
            user_id: 'U0K8SNET',
            bot_id: 'B0K8SNET',
          });
        case 'chat.postMessage': {
          if (notIn.has(String(args.channel))) return json(200, { ok: false, error: 'not_in_channel' });
          const ts = nextTs();
          const m = {
            channel: String(args.channel),
            ts,
            ...(args.thread_ts ? { thread_ts: String(args.thread_ts) } : {}),
            text: args.text as string,
            blocks: args.blocks,
          };
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
  if (socketMode) server.on('upgrade', (req, socket, head) => socketMode.upgrade(req, socket, head));
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
    leaveChannel(channel) {
      notIn.add(channel);
    },
    socketAcks: socketMode?.acks ?? [],
    socketConnected: async (count = 1, timeoutMs = 10_000) => needSocketMode().connected(count, timeoutMs),
    async deliverSlashCommand(fields, o = {}) {
      const payload = {
        token: 'deprecated-verification-token',
        api_app_id: STAND_IN_APP_ID,
        is_enterprise_install: 'false',
        trigger_id: `${Math.floor(Date.now() / 1000)}.1.${randomUUID().slice(0, 8)}`,
        ...fields,
      };
      return needSocketMode().deliver('slash_commands', payload, o.timeoutMs ?? SLACK_ACK_DEADLINE_MS);
    },
    async click(o) {
      const now = Math.floor(Date.now() / 1000) - (o.age ?? 0);
      const { body, headers } = signedInteraction(o.signingSecret, blockActions(o, now), now);
      const started = Date.now();
      const res = await fetch(o.url, { method: 'POST', headers, body });
      return { status: res.status, body: await res.text(), ms: Date.now() - started };
    },
    async deliverClick(o, d = {}) {
      return needSocketMode().deliver(
        'interactive',
        blockActions(o, Math.floor(Date.now() / 1000)),
        d.timeoutMs ?? SLACK_ACK_DEADLINE_MS,
      );
    },
    disconnectSockets(reason = 'refresh_requested') {
      needSocketMode().disconnect(reason);
    },
    close: () => {
      socketMode?.close();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

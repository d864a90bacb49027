/**
 * Listening TCP sockets with their bind address, from `ss -H -lnt[p]` ("LISTEN 0 511 127.0.0.1:80 0.0.0.0:* users:…").
 * The minimal reading trace needs to tell a pod listening on its IP from one listening on loopback only; a fuller
 * listener parser (IPv6 scopes, netstat) belongs to src/parse/listeners.ts. Pure; lines it cannot read are kept.
 */
export interface ListenSocket {
  /** As printed: 0.0.0.0, *, 127.0.0.1, [::], [::1], 10.244.1.5, 0.0.0.0%eth0 … */
  address: string;
  port: number;
  /** The line, trimmed (evidence). */
  line: string;
}

const LOCAL = /^(?<address>.+):(?<port>\d+)$/;

export function listenSocketsFromSs(text: string): ListenSocket[] {
  const out: ListenSocket[] = [];
  for (const raw of text.split('\n')) {
    const cols = raw.trim().split(/\s+/);
    // With a Netid column (ss -a/-u) the state is second; only TCP listeners count.
    if (/^[a-z][a-z0-9_]*$/.test(cols[0] ?? '') && !cols.shift()!.startsWith('tcp')) continue;
    if (cols[0] !== 'LISTEN' || !cols[3]) continue;
    const m = LOCAL.exec(cols[3]);
    if (m?.groups) out.push({ address: m.groups.address!, port: Number(m.groups.port), line: raw.trim() });
  }
  return out;
}

/** Loopback only (127.0.0.0/8 or ::1): a socket bound there refuses connections to the pod IP. */
export function isLoopbackBind(address: string): boolean {
  const a = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  return a === '::1' || /^127\./.test(a);
}

/**
 * Listening TCP ports from `ss -H -lnt` ("LISTEN 0 511 0.0.0.0:80 0.0.0.0:*") or `netstat -lnt` ("tcp 0 0 0.0.0.0:80
 * 0.0.0.0:* LISTEN"). `ss` with -u or -a puts a Netid column first, and netstat a Proto one: only tcp lines count there.
 * A line counts when its state is LISTEN. Pure.
 */
export function listeningPortsFromSs(text: string): number[] {
  const ports = new Set<number>();
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    // Netid/Proto is a lowercase word (tcp, tcp6, udp, u_str, unix …); a state is uppercase (LISTEN, UNCONN).
    if (/^[a-z][a-z0-9_]*$/.test(cols[0]!) && !cols.shift()!.startsWith('tcp')) continue;
    // Left: ss's State Recv-Q Send-Q Local …, or netstat's Recv-Q Send-Q Local Foreign State.
    const [state, local] = /^\d+$/.test(cols[0] ?? '') ? [cols[4], cols[2]] : [cols[0], cols[3]];
    const m = state === 'LISTEN' && local ? /:(?<port>\d+)$/.exec(local) : null;
    if (m?.groups) ports.add(Number(m.groups.port));
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * A process of the lab: a pod's container (answers HTTP on its ports, says which pod and container it is) or a
 * node's kube-proxy (holds the NodePorts open as kube-proxy did before v1.26, serves /healthz on 10256 and, with
 * --proxy-mode, /proxyMode on 127.0.0.1:10249).
 * Started by `lab up` inside the right network namespace; the process title makes `ss -lntp` show its role.
 *
 *   node src/lab/lab-process.ts --title web --pod default/pod-dest --port 80 --port 8080 [--dual-stack]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    title: { type: 'string' },
    pod: { type: 'string', default: '' },
    port: { type: 'string', multiple: true, default: [] },
    'proxy-mode': { type: 'string' },
    // A dual-stack pod's containers listen on both families (`::` takes IPv4 too, as v4-mapped addresses).
    'dual-stack': { type: 'boolean', default: false },
  },
});

process.title = values.title ?? 'lab-process';
const body = `${values.pod ? `pod ${values.pod} ` : ''}${process.title}\n`;

for (const port of values.port.map(Number)) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' });
    res.end(req.url === '/healthz' ? 'ok\n' : body);
  });
  server.listen(port, values['dual-stack'] ? '::' : '0.0.0.0');
}

// kube-proxy's metrics server (--metrics-bind-address 127.0.0.1:10249) answers GET /proxyMode with the mode.
const proxyMode = values['proxy-mode'];
if (proxyMode !== undefined) {
  const server = createServer((req, res) => {
    res.writeHead(req.url === '/proxyMode' ? 200 : 404, {
      'content-type': 'text/plain; charset=utf-8',
      connection: 'close',
    });
    res.end(req.url === '/proxyMode' ? proxyMode : '404 page not found\n');
  });
  server.listen(10249, '127.0.0.1');
}

// Stay alive with no ports (a pause container, a client container) until told to stop.
const keepAlive = setInterval(() => undefined, 1 << 30);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    clearInterval(keepAlive);
    process.exit(0);
  });
}

/**
 * REDIS_URL → an ioredis connection: a single Redis (redis://, rediss://), a Sentinel set
 * (redis+sentinel://[:password@]host:port,host:port/master-name) or a Redis Cluster
 * (redis+cluster://[:password@]host:port,host:port). The parsing is pure and tested; `connectRedis` only builds the
 * client. Passwords are never put into error messages.
 */
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '../config.ts';

export type RedisTarget =
  | { kind: 'single'; url: string }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      masterName: string;
      password?: string;
      db: number;
      tls: boolean;
    }
  | { kind: 'cluster'; nodes: { host: string; port: number }[]; password?: string; tls: boolean };

function hostPorts(list: string, defaultPort: number): { host: string; port: number }[] {
  return list.split(',').map((hp) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/.exec(hp.trim());
    // Quote only what comes before a ":" — "user:password" without a host must not show the password.
    const shown = hp.includes(':') ? `${hp.slice(0, hp.indexOf(':'))}:…` : hp;
    if (!m) throw new ConfigError('REDIS_URL', `${JSON.stringify(shown)} is not host[:port]`);
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) throw new ConfigError('REDIS_URL', `port ${port} is out of range`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

/** Pure: what REDIS_URL names. */
export function parseRedisUrl(url: string): RedisTarget {
  // Credentials end at the last "@" before the first "/", as in WHATWG URL parsing.
  const m = /^(redis|rediss)(\+sentinel|\+cluster)?:\/\/(?:([^/]*)@)?([^/?#]+)(?:\/([^?#]*))?$/.exec(url.trim());
  if (!m)
    throw new ConfigError(
      'REDIS_URL',
      'must be redis://, rediss://, redis+sentinel://host:port,…/master or redis+cluster://host:port,…',
    );
  const [, scheme, variant, auth, hosts, path] = m as unknown as [
    string,
    string,
    string | undefined,
    string | undefined,
    string,
    string | undefined,
  ];
  // An "@" past the host list means a password holding an unencoded "/": the messages below would quote part of it.
  if (path?.includes('@'))
    throw new ConfigError(
      'REDIS_URL',
      'has an "@" after the first "/": percent-encode "/" (%2F) and "@" (%40) in the password',
    );
  const tls = scheme === 'rediss';
  let password: string | undefined;
  try {
    password = auth
      ? decodeURIComponent(auth.includes(':') ? auth.slice(auth.indexOf(':') + 1) : auth) || undefined
      : undefined;
  } catch {
    throw new ConfigError('REDIS_URL', 'the password is not valid percent-encoding (a "%" must start %XX)');
  }
  if (variant === '+sentinel') {
    const [masterName, db = '0'] = (path ?? '').split('/');
    if (!masterName) throw new ConfigError('REDIS_URL', 'a Sentinel URL ends in /master-name');
    return {
      kind: 'sentinel',
      sentinels: hostPorts(hosts, 26379),
      masterName: decodeURIComponent(masterName),
      ...(password ? { password } : {}),
      db: database(db),
      tls,
    };
  }
  if (variant === '+cluster')
    return { kind: 'cluster', nodes: hostPorts(hosts, 6379), ...(password ? { password } : {}), tls };
  hostPorts(hosts, 6379);
  if (path) database(path);
  return { kind: 'single', url: url.trim() };
}

function database(db: string): number {
  if (!/^\d{1,2}$/.test(db)) throw new ConfigError('REDIS_URL', `database ${JSON.stringify(db)} is not a number`);
  return Number(db);
}

export type RedisConnection = Redis | Cluster;

/**
 * `blocking`: for BullMQ workers (and anything that must wait out a Redis restart rather than fail a command):
 * maxRetriesPerRequest null, as BullMQ requires. Otherwise commands fail after one retry, so the bot can tell a
 * user at once that the queue is down.
 */
export function connectRedis(url: string, options: { blocking: boolean; name: string }): RedisConnection {
  const target = parseRedisUrl(url);
  const common: RedisOptions = {
    maxRetriesPerRequest: options.blocking ? null : 1,
    connectionName: options.name,
    lazyConnect: false,
  };
  switch (target.kind) {
    case 'single':
      return new Redis(target.url, common);
    case 'sentinel':
      return new Redis({
        ...common,
        sentinels: target.sentinels,
        name: target.masterName,
        db: target.db,
        ...(target.password ? { password: target.password, sentinelPassword: target.password } : {}),
        ...(target.tls ? { tls: {}, enableTLSForSentinelMode: true } : {}),
      });
    case 'cluster':
      return new Cluster(target.nodes, {
        redisOptions: {
          ...common,
          ...(target.password ? { password: target.password } : {}),
          ...(target.tls ? { tls: {} } : {}),
        },
      });
  }
}

import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../../../src/config.ts';
import { parseRedisUrl } from '../../../src/queue/redis-url.ts';

/** The thrown error, for assertions on its type and its whole message. */
function failure(url: string): ConfigError {
  try {
    parseRedisUrl(url);
  } catch (err) {
    return err as ConfigError;
  }
  throw new Error(`${url} was accepted`);
}

describe('REDIS_URL naming a single Redis', () => {
  it.each([
    'redis://127.0.0.1:6379',
    'redis://redis.k8snet.svc',
    'rediss://cache.example.com:6380',
    'redis://:s3cret@redis:6379/2',
    'redis://default:s3cret@redis:6379/0',
    'redis://[::1]:6379',
    'rediss://app:pa%40ss@[2001:db8::7]:6380/15',
  ])('%s goes to ioredis as written', (url) => {
    expect(parseRedisUrl(url)).toEqual({ kind: 'single', url });
  });

  it('trims blanks a .env file left around the value', () => {
    expect(parseRedisUrl('  redis://redis:6379\n')).toEqual({ kind: 'single', url: 'redis://redis:6379' });
  });
});

describe('REDIS_URL naming a Sentinel set', () => {
  it('lists the sentinels, the master name and the password, database 0 by default', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@h1:26379,h2:26380/mymaster')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'h1', port: 26379 },
        { host: 'h2', port: 26380 },
      ],
      masterName: 'mymaster',
      password: 'pw',
      db: 0,
      tls: false,
    });
  });

  it('reads a database index after the master name, and the default Sentinel port', () => {
    expect(
      parseRedisUrl('redis+sentinel://sentinel-0.sentinel,sentinel-1.sentinel,[fd00::3]:26381/mymaster/2'),
    ).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'sentinel-0.sentinel', port: 26379 },
        { host: 'sentinel-1.sentinel', port: 26379 },
        { host: 'fd00::3', port: 26381 },
      ],
      masterName: 'mymaster',
      db: 2,
      tls: false,
    });
  });

  it('turns on TLS for rediss+sentinel and decodes a percent-encoded password', () => {
    expect(parseRedisUrl('rediss+sentinel://user:p%40ss%2Fw0rd@h1:26379/mymaster')).toMatchObject({
      kind: 'sentinel',
      password: 'p@ss/w0rd',
      tls: true,
    });
  });

  it('takes the last @ as the end of the credentials, as URL parsers do', () => {
    expect(parseRedisUrl('redis+sentinel://:p@ss@h1:26379/mymaster')).toMatchObject({
      password: 'p@ss',
      sentinels: [{ host: 'h1', port: 26379 }],
    });
  });

  it('refuses a Sentinel URL without a master name or with a database that is not a number', () => {
    expect(failure('redis+sentinel://h1:26379,h2:26379').message).toBe(
      'REDIS_URL: a Sentinel URL ends in /master-name',
    );
    expect(failure('redis+sentinel://h1:26379/').message).toBe('REDIS_URL: a Sentinel URL ends in /master-name');
    expect(failure('redis+sentinel://h1:26379/mymaster/two').message).toBe('REDIS_URL: database "two" is not a number');
  });
});

describe('REDIS_URL naming a Redis Cluster', () => {
  it('lists the seed nodes, port 6379 by default', () => {
    expect(parseRedisUrl('redis+cluster://h1:7000,h2:7001,h3')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'h1', port: 7000 },
        { host: 'h2', port: 7001 },
        { host: 'h3', port: 6379 },
      ],
      tls: false,
    });
  });

  it('carries the password and TLS', () => {
    expect(parseRedisUrl('rediss+cluster://:pw@clustercfg.k8snet.abc123.use1.cache.amazonaws.com:6379')).toEqual({
      kind: 'cluster',
      nodes: [{ host: 'clustercfg.k8snet.abc123.use1.cache.amazonaws.com', port: 6379 }],
      password: 'pw',
      tls: true,
    });
  });
});

describe('a bad REDIS_URL', () => {
  it.each([
    ['http://redis:6379', /^REDIS_URL: must be redis:\/\/, rediss:\/\//],
    ['redis:6379', /^REDIS_URL: must be/],
    ['redis://', /^REDIS_URL: must be/],
    ['redis+sentinal://h1:26379/mymaster', /^REDIS_URL: must be/],
    ['redis://redis:99999', /^REDIS_URL: port 99999 is out of range$/],
    ['redis://redis:0', /^REDIS_URL: port 0 is out of range$/],
    ['redis+cluster://h1:7000,,h2:7001', /^REDIS_URL: "" is not host\[:port\]$/],
    ['redis://redis host:6379', /^REDIS_URL: "redis host:…" is not host\[:port\]$/],
    ['redis://redis:6379/abc', /^REDIS_URL: database "abc" is not a number$/],
    ['redis://:pw@redis:6379/0/1', /^REDIS_URL: database "0\/1" is not a number$/],
  ])('%s is refused with a message naming REDIS_URL', (url, message) => {
    const err = failure(url);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.variable).toBe('REDIS_URL');
    expect(err.message).toMatch(message);
  });

  it.each([
    // An unencoded "/" in the password ends the authority: what follows looks like a path.
    ['redis://:hunter2/xyz@redis:6379', 'hunter2/xyz'],
    ['redis+sentinel://:hunter2/xyz@h1:26379/mymaster', 'hunter2/xyz'],
    ['redis+cluster://admin:99999/hunter2@h1:7000', '99999/hunter2'],
    // Credentials but no host.
    ['redis://default:hunter2', 'hunter2'],
    ['redis+cluster://:hunter2', 'hunter2'],
    // Malformed percent-encoding in the password.
    ['redis+sentinel://:hunter2%zz@h1:26379/mymaster', 'hunter2%zz'],
    // Something else wrong in a URL that holds a password.
    ['redis://admin:hunter2@redis:99999', 'hunter2'],
    ['redis+cluster://:hunter2@h1:7000,bad host', 'hunter2'],
  ])('never repeats the password of %s', (url, password) => {
    const err = failure(url);
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/^REDIS_URL: /);
    for (const part of password.split('/')) expect(err.message).not.toContain(part);
  });
});

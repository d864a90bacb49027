/**
 * The lab API server's credentials, made with the `openssl` CLI (argv only): a per-lab CA, a serving certificate it
 * signs for IP:127.0.0.1 and DNS:localhost, and a random bearer token — all under the lab's state dir, private
 * files mode 0600. Existing material is reused, so a restarted server keeps working with kubeconfigs already written.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../host-tools.ts';

export interface LabApiCredentials {
  caCertPem: string;
  certPem: string;
  keyPem: string;
  token: string;
  caCertPath: string;
  tokenPath: string;
}

/** A year: the lab lives for hours; the CA outliving the serving cert is what a kubeadm cluster does too. */
const CERT_DAYS = '365';
const CA_DAYS = '3650';
/** 32 random bytes as hex, the size of a kubeadm bootstrap secret and then some. */
const TOKEN_BYTES = 32;
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export function pkiPaths(stateDir: string) {
  const dir = join(stateDir, 'pki');
  return {
    dir,
    caKey: join(dir, 'ca.key'),
    caCert: join(dir, 'ca.crt'),
    key: join(dir, 'apiserver.key'),
    csr: join(dir, 'apiserver.csr'),
    cert: join(dir, 'apiserver.crt'),
    extensions: join(dir, 'apiserver.ext'),
    token: join(stateDir, 'token'),
  };
}

/** The x509 v3 extensions of the serving certificate (what kubeadm puts in apiserver.crt, minus cluster names). */
export function servingCertExtensions(): string {
  return [
    'basicConstraints=critical,CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n');
}

/** The openssl argv lists, in order (pure, so tests can pin them). */
export function opensslCommands(lab: string, p: ReturnType<typeof pkiPaths>): string[][] {
  return [
    [
      'openssl',
      'req',
      '-x509',
      '-new',
      ...EC_KEY,
      '-keyout',
      p.caKey,
      '-out',
      p.caCert,
      '-days',
      CA_DAYS,
      '-subj',
      `/CN=k8snet-${lab}-ca`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    ],
    ['openssl', 'req', '-new', ...EC_KEY, '-keyout', p.key, '-out', p.csr, '-subj', '/CN=kube-apiserver'],
    [
      'openssl',
      'x509',
      '-req',
      '-in',
      p.csr,
      '-CA',
      p.caCert,
      '-CAkey',
      p.caKey,
      '-CAcreateserial',
      '-out',
      p.cert,
      '-days',
      CERT_DAYS,
      '-extfile',
      p.extensions,
    ],
  ];
}

export async function ensureLabApiCredentials(stateDir: string, lab: string): Promise<LabApiCredentials> {
  const p = pkiPaths(stateDir);
  if (![p.caCert, p.cert, p.key].every((f) => existsSync(f))) {
    await mkdir(p.dir, { recursive: true, mode: 0o700 });
    await writeFile(p.extensions, servingCertExtensions());
    for (const argv of opensslCommands(lab, p)) await runTool(argv);
    await Promise.all([chmod(p.caKey, 0o600), chmod(p.key, 0o600)]);
  }
  if (!existsSync(p.token)) {
    await writeFile(p.token, `${randomBytes(TOKEN_BYTES).toString('hex')}\n`, { mode: 0o600 });
  }
  const [caCertPem, certPem, keyPem, token] = await Promise.all(
    [p.caCert, p.cert, p.key, p.token].map((f) => readFile(f, 'utf8')),
  );
  return {
    caCertPem: caCertPem!,
    certPem: certPem!,
    keyPem: keyPem!,
    token: token!.trim(),
    caCertPath: p.caCert,
    tokenPath: p.token,
  };
}

import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { K8snetError } from '../../../src/errors.ts';
import { describeTarget, statusMessage, translateKubeError } from '../../../src/cluster/kube-errors.ts';

const SERVER = 'https://10.0.0.1:6443';
const pod = { kind: 'pod', namespace: 'default', name: 'pod-x' };
const status = (code: number, reason: string, message: string) =>
  JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
const api = (code: number, body: string) =>
  new ApiException(code, 'Unknown API Status Code!', body, { authorization: 'Bearer secret-token' });

describe('translateKubeError', () => {
  it('turns a 404 into not_found naming the object', () => {
    const err = translateKubeError(api(404, status(404, 'NotFound', 'pods "pod-x" not found')), pod, SERVER);
    expect(err).toBeInstanceOf(K8snetError);
    expect(err).toMatchObject({ code: 'not_found', message: 'pod "default/pod-x" not found', retryable: false });
    expect(err.cause).toBeInstanceOf(ApiException);
  });

  it('turns 401 and 403 into unauthorized, with the RBAC reason for a 403 and never the headers', () => {
    const e401 = translateKubeError(api(401, status(401, 'Unauthorized', 'Unauthorized')), pod, SERVER);
    expect(e401.code).toBe('unauthorized');
    expect(e401.message).toContain('401');
    const rbac =
      'pods "pod-x" is forbidden: User "system:serviceaccount:k8snet:k8snet" cannot get resource "pods" in API group "" in the namespace "default"';
    const e403 = translateKubeError(api(403, status(403, 'Forbidden', rbac)), pod, SERVER);
    expect(e403).toMatchObject({ code: 'unauthorized', retryable: false });
    expect(e403.message).toContain(rbac);
    expect(e403.message).not.toContain('secret-token');
  });

  it('makes 5xx and 429 retryable cluster_api errors, other 4xx not', () => {
    expect(translateKubeError(api(503, 'service unavailable'), pod, SERVER)).toMatchObject({
      code: 'cluster_api',
      retryable: true,
    });
    expect(
      translateKubeError(api(429, status(429, 'TooManyRequests', 'too many requests')), pod, SERVER),
    ).toMatchObject({ code: 'cluster_api', retryable: true });
    expect(
      translateKubeError(api(400, status(400, 'BadRequest', 'unable to parse requirement')), { kind: 'pod' }, SERVER),
    ).toMatchObject({
      code: 'cluster_api',
      retryable: false,
      message: `the Kubernetes API at ${SERVER} answered 400 reading pod list: unable to parse requirement`,
    });
  });

  it('reports an unreachable server (undici "fetch failed" with a system cause) as retryable', () => {
    const refused = new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:6443'), { code: 'ECONNREFUSED' }),
    });
    expect(translateKubeError(refused, pod, SERVER)).toMatchObject({
      code: 'cluster_api',
      retryable: true,
      message: `cannot reach the Kubernetes API at ${SERVER} reading pod "default/pod-x" (ECONNREFUSED)`,
    });
  });

  it('reports a certificate failure as not retryable and a deadline as a timeout', () => {
    const tls = new TypeError('fetch failed', {
      cause: Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    });
    expect(translateKubeError(tls, pod, SERVER)).toMatchObject({ code: 'cluster_api', retryable: false });
    const timeout = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(translateKubeError(timeout, pod, SERVER)).toMatchObject({ code: 'timeout', retryable: true });
  });

  it('passes our own errors through unchanged', () => {
    const ours = new K8snetError('invalid_input', 'x');
    expect(translateKubeError(ours, pod, SERVER)).toBe(ours);
  });
});

describe('helpers', () => {
  it('describe targets and read Status messages', () => {
    expect(describeTarget({ kind: 'node', name: 'n1' })).toBe('node "n1"');
    expect(describeTarget({ kind: 'service', namespace: 'shop' })).toBe('service list in namespace shop');
    expect(statusMessage('not json')).toBeNull();
    expect(statusMessage({ message: 'a\n  b' })).toBe('a b');
    expect(statusMessage({ message: 'x'.repeat(400) })!.length).toBe(301);
  });
});

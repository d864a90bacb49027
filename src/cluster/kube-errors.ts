/**
 * Foreign errors from @kubernetes/client-node (ApiException, undici's "fetch failed" with a system cause, an
 * aborted request) → K8snetError, at the adapter edge. Messages are ours and user-safe: never the raw exception,
 * whose text includes response headers.
 */
import { ApiException } from '@kubernetes/client-node';
import { K8snetError } from '../errors.ts';

/** What was being read, for messages: `pod "default/pod-x"`. */
export interface KubeTarget {
  kind: string;
  name?: string;
  namespace?: string;
}

/** Longest piece of a Status message we repeat to the user (a 403's "cannot get resource …" line fits). */
const MAX_STATUS_MESSAGE = 300;
/** Certificate problems: retrying does not help. */
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;

export function describeTarget(t: KubeTarget): string {
  if (t.name === undefined)
    return t.namespace === undefined ? `${t.kind} list` : `${t.kind} list in namespace ${t.namespace}`;
  return `${t.kind} "${t.namespace === undefined ? t.name : `${t.namespace}/${t.name}`}"`;
}

/** The `message` of a Kubernetes Status body, if the body is one (a string of JSON or an object). */
export function statusMessage(body: unknown): string | null {
  let value = body;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch {
      return null;
    }
  }
  const message = value !== null && typeof value === 'object' ? (value as { message?: unknown }).message : undefined;
  if (typeof message !== 'string' || message === '') return null;
  return shorten(message);
}

function systemCode(err: unknown): string | null {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

export function translateKubeError(err: unknown, target: KubeTarget, server: string): K8snetError {
  if (err instanceof K8snetError) return err;
  const what = describeTarget(target);
  if (err instanceof ApiException) {
    const code = err.code;
    const detail = statusMessage(err.body);
    if (code === 404) return new K8snetError('not_found', `${what} not found`, { cause: err });
    if (code === 401) {
      return new K8snetError(
        'unauthorized',
        `the Kubernetes API at ${server} rejected our credentials (401 Unauthorized): check the kubeconfig's token or client certificate`,
        { cause: err },
      );
    }
    if (code === 403) {
      return new K8snetError(
        'unauthorized',
        `the Kubernetes API at ${server} refused to let us read ${what} (403 Forbidden)${detail ? `: ${detail}` : ''}`,
        { cause: err },
      );
    }
    const retryable = code >= 500 || code === 429;
    return new K8snetError(
      'cluster_api',
      `the Kubernetes API at ${server} answered ${code} reading ${what}${detail ? `: ${detail}` : ''}`,
      { retryable, cause: err },
    );
  }
  // By name, not instanceof: AbortSignal.timeout() rejects with a DOMException, which may come from another realm.
  const name = err !== null && typeof err === 'object' ? (err as { name?: unknown }).name : undefined;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new K8snetError('timeout', `the Kubernetes API at ${server} did not answer in time reading ${what}`, {
      retryable: true,
      cause: err,
    });
  }
  const code = systemCode(err);
  if (code !== null && TLS_ERROR.test(code)) {
    return new K8snetError(
      'cluster_api',
      `TLS verification of the Kubernetes API at ${server} failed (${code}): check the kubeconfig's certificate-authority`,
      { cause: err },
    );
  }
  if (code === null && err instanceof Error && !(err instanceof TypeError)) {
    // client-node's own refusals ("HTTP protocol is not allowed when skipTLSVerify is not set"): a setup problem.
    return new K8snetError(
      'cluster_api',
      `the Kubernetes client cannot read ${what} from ${server}: ${shorten(err.message)}`,
      { cause: err },
    );
  }
  const detail = code ?? innermostMessage(err);
  return new K8snetError(
    'cluster_api',
    `cannot reach the Kubernetes API at ${server} reading ${what}${detail ? ` (${detail})` : ''}`,
    { retryable: true, cause: err },
  );
}

function shorten(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ');
  return oneLine.length > MAX_STATUS_MESSAGE ? `${oneLine.slice(0, MAX_STATUS_MESSAGE)}…` : oneLine;
}

/** undici wraps the real reason ("bad port", "other side closed") as the cause of "fetch failed". */
function innermostMessage(err: unknown): string | null {
  let e: unknown = err;
  let message: string | null = null;
  for (let depth = 0; depth < 5 && e instanceof Error; depth += 1) {
    message = e.message;
    e = e.cause;
  }
  return message === null || message === 'fetch failed' ? null : shorten(message);
}

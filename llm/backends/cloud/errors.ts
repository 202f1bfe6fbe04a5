// Provider failures as messages a user can act on: what failed, the HTTP status, what it usually
// means, and the provider's own message. The official SDKs' errors carry status and body (never the
// request's headers), so no key can leak through here.
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(message: string, readonly status: number | undefined) {
    super(message);
  }
}

const HINTS: Record<number, (p: string, keyVar: string) => string> = {
  400: () => 'the request was refused as invalid',
  401: (_p, k) => `the API key in ${k} was not accepted (missing, mistyped or revoked)`,
  402: () => 'payment required: the account has no credit left for this job',
  403: () => 'the key is valid but not allowed to do this',
  404: () => 'not found (a job, file or model id that does not exist for this key)',
  422: () => 'the provider could not process the request (validation failed)',
  429: () => 'rate limited or out of quota, and still so after the retries',
};

/** Wraps any error from a provider call as a ProviderError naming provider, action and status. */
export function providerError(provider: string, keyVar: string, action: string, e: unknown, extra: Record<number, string> = {}): ProviderError {
  if (e instanceof ProviderError) return e;
  const err = e as { status?: number; message?: string; name?: string; error?: { message?: string; code?: string; error?: { message?: string; code?: string } } };
  // OpenAI's SDK hands over the body's `error` object; Together's the whole body ({error: {...}}).
  const body = err?.error?.error ?? err?.error;
  const status = typeof err?.status === 'number' ? err.status : undefined;
  if (status === undefined) {
    const timeout = /timeout|timed out/i.test(`${err?.name} ${err?.message}`);
    return new ProviderError(`${provider}: ${action} failed: ${timeout ? 'the request timed out (after the retries)' : 'could not reach the API'} (${err?.message ?? String(e)})`, undefined);
  }
  const quota = body?.code === 'insufficient_quota' || /quota|credit|billing/i.test(err.message ?? '');
  const hint = quota && (status === 429 || status === 402) ? 'out of quota or credit' : (extra[status] ?? HINTS[status]?.(provider, keyVar) ?? (status >= 500 ? 'server error, still failing after the retries' : 'request failed'));
  return new ProviderError(`${provider}: ${action} failed with HTTP ${status}: ${hint}. ${provider} says: ${body?.message ?? err.message ?? '(no message)'}`, status);
}

/** fetch with the SDKs' retry rule (429 honouring Retry-After, 408/409/5xx, connection errors), for the raw calls the SDKs do not make. */
export async function fetchWithRetry(url: string, init: RequestInit, opts: { maxRetries: number; timeoutMs: number }): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    let res: Response | null = null;
    let err: unknown = null;
    try {
      res = await fetch(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs) });
    } catch (e) { err = e; }
    const retryable = err !== null || (res !== null && (res.status === 429 || res.status === 408 || res.status === 409 || res.status >= 500));
    if (!retryable || attempt >= opts.maxRetries) {
      if (err) throw err;
      return res!;
    }
    const after = Number(res?.headers.get('retry-after'));
    const wait = Number.isFinite(after) && after > 0 && after <= 60 ? after * 1000 : Math.min(500 * 2 ** attempt, 8000) * (1 - Math.random() * 0.25);
    await new Promise((r) => setTimeout(r, wait));
  }
}

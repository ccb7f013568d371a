// What the stream endpoints (MPEG-TS, HLS, DASH) share about a request: who the viewer
// is, the peer address, and the error body every route answers with.

export interface ClientInfo {
  request: Request;
  /** Peer address (the cache's, behind a cache). */
  ip: string;
}

export function jsonError(status: number, code: string, message: string, field?: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: field ? { code, message, field } : { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** A new viewer refused by admission control (coordinator/load/viewer-admission.ts): 503, Retry-After. */
export function overloadedResponse(refusal: { lagMs: number; retryAfterS: number }, thresholdMs: number): Response {
  return jsonError(
    503,
    'overloaded',
    `this coordinator is overloaded (its event loop runs ${refusal.lagMs} ms late, limit ${thresholdMs} ms, TVARR_OVERLOAD_LAG_MS) and takes no new viewers; retry in ${refusal.retryAfterS} s, or on another coordinator`,
    undefined,
    { 'retry-after': String(refusal.retryAfterS), 'cache-control': 'no-store' },
  );
}

/**
 * A viewer's identity: `?session=` when the player adds one (many viewers behind one
 * address), else peer address + user agent. Bounded: a session is at most 64 safe
 * characters, a user agent is cut at 200.
 */
export function viewerKey({ request, ip }: ClientInfo): string {
  const url = new URL(request.url);
  const session = url.searchParams.get('session');
  if (session && /^[A-Za-z0-9_-]{1,64}$/.test(session)) return `s:${session}`;
  return `a:${ip} ${(request.headers.get('user-agent') ?? '').slice(0, 200)}`;
}

export function requestIp(server: { requestIP(r: Request): { address: string } | null } | null | undefined, request: Request): string {
  return server?.requestIP(request)?.address ?? 'unknown';
}

/** Playlists and manifests change every segment: cached for half a target duration. */
export function manifestMaxAge(targetDuration: number): number {
  return Math.max(1, Math.floor(targetDuration / 2));
}

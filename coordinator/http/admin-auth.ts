// Guards that run before routing on every HTTP request: the Host check, the body size
// limit, the cross-site checks and the admin token.
//
// Why here and not per route: every write route (and any added later, including the
// Transcoders page's actions, which call the same /api routes) is covered by one rule.
//
// Threat: the admin API is reached by browsers as well as scripts. A page on any other
// site can make the operator's browser send a POST without a preflight (no body, or a
// form body), and DNS rebinding can make a page's own origin resolve to this coordinator.
// So, before the token is even looked at:
//  - the Host header must name this coordinator (its own names, any IP literal, or
//    TVARR_ALLOWED_HOSTS): a rebinding attack always arrives under the attacker's DNS name,
//    while players on the LAN use an IP or a name the operator lists;
//  - a write must not come from another site (Origin, Sec-Fetch-Site) and must carry JSON,
//    never a form or text/plain body (the content types a page may send cross-site);
//  - then the token. Reads stay open (secrets in them are redacted without the token) and so
//    do the client endpoints under /stream/ and /playlist.m3u, as IPTV players expect.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const digest = (s: string) => createHash('sha256').update(s).digest();

export interface RequestGuardConfig {
  /** The admin token, or its SHA-256 digest (the generated token is kept only as a digest). */
  adminToken: string | Buffer;
  apiMaxBodyBytes: number;
  /** Lower-case host names (no port) this coordinator answers to; '*' allows any. */
  ownHosts: ReadonlySet<string>;
  /** Origins besides the coordinator's own whose pages may send writes. */
  trustedOrigins: readonly string[];
}

export interface HostNameInputs {
  httpHost: string;
  publicUrl?: string;
  allowedHosts: readonly string[];
}

/** The names a browser may legitimately use for this coordinator (ports aside). */
export function ownHostNames(config: HostNameInputs): Set<string> {
  const names = new Set<string>(['localhost', '127.0.0.1', '::1']);
  const add = (h: string | undefined) => h && names.add(normaliseHost(h));
  if (config.httpHost !== '0.0.0.0' && config.httpHost !== '::') add(config.httpHost);
  const machine = hostname().toLowerCase();
  add(machine);
  add(`${machine.split('.')[0]}.local`); // mDNS name on a LAN
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) add(a.address);
  if (config.publicUrl) add(new URL(config.publicUrl).hostname);
  for (const h of config.allowedHosts) add(h);
  return names;
}

/** "Host:8080" -> "host"; "[::1]:8080" -> "::1"; trailing dot removed. */
function normaliseHost(hostHeader: string): string {
  let h = hostHeader.trim().toLowerCase();
  if (h.startsWith('[')) h = h.slice(1, h.indexOf(']') > 0 ? h.indexOf(']') : undefined);
  else if (h.indexOf(':') === h.lastIndexOf(':')) h = h.split(':')[0]!; // one colon: a port
  return h.replace(/\.$/, '');
}

export function hostAllowed(hostHeader: string | null, ownHosts: ReadonlySet<string>): boolean {
  if (hostHeader === null || ownHosts.has('*')) return true;
  const host = normaliseHost(hostHeader);
  // An IP literal cannot be rebound: DNS rebinding needs the attacker's name in Host. So
  // LAN players using the machine's IP (or a NAT/Docker-mapped one) always pass.
  return isIP(host) !== 0 || ownHosts.has(host);
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** Constant-time check of `authorization: Bearer <token>` (hashing first hides the length). */
export function hasAdminToken(request: Request, expected: string | Buffer): boolean {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) return false;
  return timingSafeEqual(digest(match[1]!), typeof expected === 'string' ? digest(expected) : expected);
}

/** Why a write looks cross-site, or null. The coordinator's own origin is the Host it was reached under. */
function crossSiteProblem(request: Request, config: RequestGuardConfig): string | null {
  const site = request.headers.get('sec-fetch-site');
  // same-site includes other ports of this host: other web apps there are not trusted either.
  if (site !== null && site !== 'same-origin' && site !== 'none') {
    const origin = request.headers.get('origin');
    if (origin === null || !config.trustedOrigins.includes(origin)) return `a ${site} request may not change anything`;
  }
  const origin = request.headers.get('origin');
  if (origin === null) return null;
  if (config.trustedOrigins.includes(origin)) return null;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return 'a request from an opaque origin may not change anything';
  }
  const host = (request.headers.get('host') ?? new URL(request.url).host).toLowerCase();
  if (parsed.host.toLowerCase() === host) return null;
  return 'a request from another origin may not change anything (TVARR_TRUSTED_ORIGINS lists extra ones)';
}

/** Media type of a write's body, refused unless JSON (or no body at all). */
function contentTypeProblem(request: Request): string | null {
  const type = (request.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/json') return null;
  if (type === '') {
    const length = request.headers.get('content-length');
    const bodyless = request.body === null || length === '0';
    return bodyless ? null : 'a request body needs "content-type: application/json"';
  }
  return `content type ${type.slice(0, 100)} is not accepted: send application/json`;
}

/**
 * Returns a Response to short-circuit the request (403, 413, 415 or 401), or undefined to
 * let it through. On a real socket Bun's maxRequestBodySize (same limit, set in app.ts)
 * answers 413 first, also for chunked bodies; this check covers app.handle and any other server.
 */
export function guardRequest(request: Request, config: RequestGuardConfig): Response | undefined {
  if (!hostAllowed(request.headers.get('host'), config.ownHosts)) {
    return errorResponse(403, 'host_not_allowed', 'this coordinator is not served under that host name: add it to TVARR_ALLOWED_HOSTS');
  }
  const length = request.headers.get('content-length');
  if (length !== null && !(Number(length) <= config.apiMaxBodyBytes)) {
    return errorResponse(413, 'payload_too_large', `request body is larger than ${config.apiMaxBodyBytes} bytes (TVARR_API_MAX_BODY_BYTES)`);
  }
  if (SAFE_METHODS.has(request.method)) return undefined;
  const crossSite = crossSiteProblem(request, config);
  if (crossSite) return errorResponse(403, 'cross_site_request', crossSite);
  const badType = contentTypeProblem(request);
  if (badType) return errorResponse(415, 'unsupported_media_type', badType);
  if (hasAdminToken(request, config.adminToken)) return undefined;
  // Coordinator-to-coordinator calls carry the cluster secret, never the admin token: those
  // routes check it themselves and answer 401 without it (internal-job-routes.ts).
  if (isInternalPath(request.url)) return undefined;
  return errorResponse(401, 'unauthenticated', 'this action needs the admin token: send "authorization: Bearer <token>" (TVARR_ADMIN_TOKEN, or the one generated at first start in the data directory\'s admin-token file)', {
    'www-authenticate': 'Bearer realm="tvarr-admin"',
  });
}

function isInternalPath(url: string): boolean {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  return start >= 0 && url.startsWith('/internal/', start);
}

/** Deeper JSON than this is refused before JSON.parse: real API bodies nest 2 levels. */
export const MAX_JSON_DEPTH = 32;

/** Depth of the deepest array/object in a JSON text, scanned without parsing it. */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) max = depth;
      if (max > MAX_JSON_DEPTH) return max; // enough to refuse: stop scanning
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * Refuses over-nested JSON bodies before Elysia parses them: a body of 100,000 nested
 * brackets (well under the size limit) otherwise ties up the event loop in the parser
 * and validator, stalling every live stream. Runs on a clone, so the route still reads
 * the body, and Elysia's own JSON parser stays in place (the OpenAPI document depends on
 * it to describe request bodies). Bodies are already capped by TVARR_API_MAX_BODY_BYTES.
 */
export async function rejectDeepJson(request: Request): Promise<Response | undefined> {
  if (SAFE_METHODS.has(request.method) || !request.body) return undefined;
  if (!(request.headers.get('content-type') ?? '').startsWith('application/json')) return undefined;
  if (jsonNestingDepth(await request.clone().text()) <= MAX_JSON_DEPTH) return undefined;
  return errorResponse(400, 'invalid_request', `JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
}

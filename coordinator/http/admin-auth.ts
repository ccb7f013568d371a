// Guards that run before routing on every HTTP request: the request body size limit
// and the optional admin token.
//
// Why here and not per route: every write route (and any added later, including the
// Transcoders page's actions, which call the same /api routes) is covered by one rule.
// Reads (GET/HEAD/OPTIONS) and the client endpoints under /stream/ stay open, so
// players and the page's read views need no token.
import { createHash, timingSafeEqual } from 'node:crypto';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const digest = (s: string) => createHash('sha256').update(s).digest();

export interface RequestGuardConfig {
  adminToken?: string;
  apiMaxBodyBytes: number;
}

function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify({ error: { code, message } }), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

/** Constant-time check of `authorization: Bearer <token>` (hashing first hides the length). */
export function hasAdminToken(request: Request, expected: string): boolean {
  const header = request.headers.get('authorization') ?? '';
  const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
  if (!match) return false;
  return timingSafeEqual(digest(match[1]!), digest(expected));
}

/**
 * Returns a Response to short-circuit the request (413 or 401), or undefined to let it
 * through. On a real socket Bun's maxRequestBodySize (same limit, set in app.ts) answers
 * 413 first, also for chunked bodies; this check covers app.handle and any other server.
 */
export function guardRequest(request: Request, config: RequestGuardConfig): Response | undefined {
  const length = request.headers.get('content-length');
  if (length !== null && !(Number(length) <= config.apiMaxBodyBytes)) {
    return errorResponse(413, 'payload_too_large', `request body is larger than ${config.apiMaxBodyBytes} bytes (TVARR_API_MAX_BODY_BYTES)`);
  }
  if (config.adminToken === undefined || SAFE_METHODS.has(request.method)) return undefined;
  if (new URL(request.url).pathname.startsWith('/stream/')) return undefined;
  if (hasAdminToken(request, config.adminToken)) return undefined;
  return errorResponse(401, 'unauthenticated', 'this action needs the admin token: send "authorization: Bearer <TVARR_ADMIN_TOKEN>"', {
    'www-authenticate': 'Bearer realm="tvarr-admin"',
  });
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

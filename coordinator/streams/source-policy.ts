// Which source URLs the coordinator may open, and how their secrets are kept out of
// responses and logs.
//
// Why a policy: a source URL goes to FFmpeg, which can read local files (file:/etc/...),
// listen on UDP ports or follow a playlist to anything it supports. An admin token leak,
// or a careless admin, must not turn the coordinator into a file reader for anonymous
// stream clients. So by default only http(s) (any host: tuners and IPTV proxies live on
// loopback and the LAN) and the built-in test pattern are accepted; every other FFmpeg
// input is opt-in by scheme (TVARR_SOURCE_SCHEMES=file,rtsp), and FFmpeg runs with a
// -protocol_whitelist that matches the URL's scheme, so a playlist or a redirect cannot
// reach a protocol the operator did not allow.
// The built-in generator (source-input.ts); spelled here too so the two files need not import each other.
const TEST_PATTERN_SCHEME = 'testpattern:';

/** Schemes an operator may add; each maps to the FFmpeg protocols its input needs. */
export const OPTIONAL_SOURCE_SCHEMES = ['file', 'udp', 'rtp', 'srt', 'rtsp', 'rtsps', 'rtmp', 'rtmps'] as const;
export type OptionalSourceScheme = (typeof OPTIONAL_SOURCE_SCHEMES)[number];

// http(s) via FFmpeg is HLS: playlists and segments over http/https (tls, tcp under them),
// AES-128 segments need crypto.
const HTTP_PROTOCOLS = ['http', 'https', 'tcp', 'tls', 'crypto'];
const PROTOCOLS: Record<OptionalSourceScheme, string[]> = {
  file: ['file'],
  udp: ['udp'],
  rtp: ['rtp', 'udp'],
  srt: ['srt'],
  rtsp: ['rtsp', 'rtp', 'udp', 'tcp'],
  rtsps: ['rtsp', 'rtsps', 'rtp', 'udp', 'tcp', 'tls'],
  rtmp: ['rtmp', 'tcp'],
  rtmps: ['rtmp', 'rtmps', 'tcp', 'tls'],
};

/** Lower-case scheme without the colon, or null when the text is not an absolute URL. */
export function schemeOf(url: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return m ? m[1]!.toLowerCase() : null;
}

/**
 * Why a source URL is refused, or null when it may be used. `extraSchemes` is the
 * operator's TVARR_SOURCE_SCHEMES list.
 */
export function sourceUrlProblem(url: string, extraSchemes: readonly string[]): string | null {
  if (url.startsWith(TEST_PATTERN_SCHEME)) return null;
  const scheme = schemeOf(url);
  if (scheme === 'http' || scheme === 'https') {
    if (!URL.canParse(url)) return 'not a valid http(s) URL';
    return null;
  }
  if (scheme !== null && (OPTIONAL_SOURCE_SCHEMES as readonly string[]).includes(scheme)) {
    if (extraSchemes.includes(scheme)) return null;
    return `${scheme}: sources are disabled; allow them with TVARR_SOURCE_SCHEMES=${scheme}`;
  }
  return `unsupported scheme${scheme ? ` '${scheme}'` : ''}: use http(s)://, testpattern: or one of ${OPTIONAL_SOURCE_SCHEMES.join(', ')} (when listed in TVARR_SOURCE_SCHEMES)`;
}

/**
 * The -protocol_whitelist for an FFmpeg reading this URL: only the protocols its scheme
 * needs. A URL the policy refuses gets a whitelist FFmpeg cannot open anything with.
 */
export function ffmpegProtocolWhitelist(url: string, extraSchemes: readonly string[]): string {
  if (sourceUrlProblem(url, extraSchemes) !== null) return 'none';
  const scheme = schemeOf(url);
  if (scheme === 'http' || scheme === 'https') return HTTP_PROTOCOLS.join(',');
  const protocols = PROTOCOLS[scheme as OptionalSourceScheme];
  return protocols ? protocols.join(',') : 'none';
}

const MAX_REDIRECTS = 5;

/**
 * fetch() for http(s) sources that follows redirects itself, only to http(s): the
 * runtime's fetch would also follow a Location to a scheme the policy refuses.
 */
export async function fetchSourceUrl(url: string, init: RequestInit): Promise<Response> {
  let current = url;
  for (let hop = 0; ; hop++) {
    const res = await fetch(current, { ...init, redirect: 'manual' });
    const location = res.headers.get('location');
    if (res.status < 300 || res.status >= 400 || location === null) return res;
    void res.body?.cancel().catch(() => {});
    if (hop >= MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
    const next = parseUrl(location, current);
    if (!next || (next.protocol !== 'http:' && next.protocol !== 'https:')) {
      throw new Error(`redirect to a ${next ? next.protocol.replace(/:$/, '') : 'malformed'} URL refused (only http and https are followed)`);
    }
    current = next.href;
  }
}

// ---- secrets in URLs ----------------------------------------------------------------

/** `http://user:***@host/path?token=***`: user info password and every query value masked. */
export function maskUrl(url: string): string {
  return maskSecrets(url);
}

const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@:]*):([^\s/?#@]*)@/gi;
// A value ends at whitespace, & or #, or at a colon that ends the URL ("url: error" in FFmpeg's text).
const QUERY_VALUE = /([?&][^\s=&#?]+)=((?:[^\s&#"'<>:]|:(?![\s]|$))*)/g;

/**
 * Masks credentials in any text that may hold a source URL (FFmpeg errors, reasons):
 * URL passwords, query values, and, when the source URL is known, its password and
 * query values wherever they appear (FFmpeg sometimes prints them decoded or alone).
 */
export function maskSecrets(text: string, sourceUrl?: string): string {
  let out = text.replace(USERINFO, (_m, scheme: string, user: string) => `${scheme}${user}:***@`).replace(QUERY_VALUE, (_m, key: string) => `${key}=***`);
  for (const secret of secretsOf(sourceUrl)) out = out.split(secret).join('***');
  return out;
}

function secretsOf(url: string | undefined): string[] {
  if (!url) return [];
  const parsed = parseUrl(url);
  if (!parsed) return [];
  const raw = [parsed.password, safeDecode(parsed.password), ...[...parsed.searchParams.values()]];
  // Short values (a "1", "ts") would mask ordinary words; credentials are longer.
  return [...new Set(raw.filter((s) => s.length >= 4))];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function parseUrl(url: string, base?: string): URL | null {
  try {
    return new URL(url, base);
  } catch {
    return null;
  }
}

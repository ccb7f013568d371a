// The Transcoders page: static HTML, CSS and JS read from coordinator/http/page (no build
// step). The script fetches /api/cluster and renders with textContent only; the CSP
// below forbids inline script as a second line of defence against a hostile worker name.
import { Elysia } from 'elysia';
import { join } from 'node:path';
// hls.js for the live preview, imported as a file so a compiled coordinator embeds it (no CDN).
import hlsJsPath from 'hls.js/dist/hls.light.min.js' with { type: 'file' };

const PAGE_DIR = join(import.meta.dir, '..', 'page');

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self' blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

function serve(file: string, contentType: string): () => Response {
  return () => new Response(Bun.file(join(PAGE_DIR, file)), { headers: { ...SECURITY_HEADERS, 'content-type': contentType } });
}

const hidden = { detail: { hide: true } };

export function pageRoutes() {
  const html = serve('transcoders.html', 'text/html; charset=utf-8');
  return new Elysia()
    .get('/', html, hidden)
    .get('/transcoders', html, hidden)
    .get('/transcoders/app.js', serve('transcoders.js', 'text/javascript; charset=utf-8'), hidden)
    .get('/transcoders/preview.js', serve('preview.js', 'text/javascript; charset=utf-8'), hidden)
    .get('/transcoders/hls.js', () => new Response(Bun.file(hlsJsPath), { headers: { ...SECURITY_HEADERS, 'content-type': 'text/javascript; charset=utf-8' } }), hidden)
    .get('/transcoders/app.css', serve('transcoders.css', 'text/css; charset=utf-8'), hidden);
}

// A web player's test page on its own origin (127.0.0.1, port 0): the page and one player
// library from node_modules (never a CDN), as a viewer's web app elsewhere would load them,
// so the coordinator's playlists, manifests and segments must carry CORS.
export interface PlayerPage {
  url: string;
  stop(): Promise<void>;
}

/** Serves `/` (a muted video element and the library's script tag) and `/<script>` from `libraryPath`. */
export function servePlayerLibraryPage(title: string, script: string, libraryPath: string): PlayerPage {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>${title}</title><script src="/${script}"></script></head>
<body><video id="video" muted playsinline width="320" height="180"></video></body></html>`;
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === '/') return new Response(page, { headers: { 'content-type': 'text/html; charset=utf-8' } });
      if (path === `/${script}`) return new Response(Bun.file(libraryPath), { headers: { 'content-type': 'text/javascript; charset=utf-8' } });
      return new Response('not found', { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}/`, stop: () => server.stop(true) };
}

// Live preview on the Transcoders page: plays any running variant's HLS playlist
// (/stream/{source}/{profile}.m3u8) muted and small, with the job's fps and speed and the
// variant's viewers by format beside it. hls.js comes from the coordinator itself
// (/transcoders/hls.js, from the hls.js npm package); Safari plays HLS natively.
// The preview is an ordinary HLS viewer: it counts while open and leaves a few segment
// durations after it is closed. Streams are open, so no admin token is needed.
'use strict';
(() => {
  const POLL_MS = 2000;
  const $ = (id) => document.getElementById(id);
  // One session per page: the page's viewer stays one viewer across playlist reloads.
  const session = `preview-${Math.random().toString(36).slice(2, 10)}`;
  let hls = null;
  let current = '';
  let timer = null;

  const num = (v, digits = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');
  const setStat = (key, text) => {
    const node = document.querySelector(`[data-preview="${key}"]`);
    if (node) node.textContent = text;
  };

  function stop() {
    if (hls) hls.destroy();
    hls = null;
    const video = $('preview-video');
    video.pause();
    video.removeAttribute('src');
    video.load();
    current = '';
    $('preview-body').hidden = true;
    $('preview-close').hidden = true;
    $('preview-error').textContent = '';
  }

  function play(variant) {
    stop();
    if (!variant) return;
    current = variant;
    const [source, profile] = variant.split('/');
    const url = `/stream/${encodeURIComponent(source)}/${encodeURIComponent(profile)}.m3u8?session=${session}`;
    const video = $('preview-video');
    video.muted = true;
    $('preview-body').hidden = false;
    $('preview-close').hidden = false;
    $('preview-variant').value = variant;
    $('preview-video').dataset.variant = variant;
    if (window.Hls && window.Hls.isSupported()) {
      // No worker: the page's CSP allows no blob: workers, and one small stream needs none.
      hls = new window.Hls({ enableWorker: false, lowLatencyMode: false, liveSyncDurationCount: 2 });
      hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) $('preview-error').textContent = `preview failed: ${data.details}`;
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;
    } else {
      $('preview-error').textContent = 'this browser cannot play HLS';
      return;
    }
    void video.play().catch(() => {});
    void refresh();
  }

  function renderVariants(live) {
    const select = $('preview-variant');
    const wanted = live.map((v) => v.variant).sort();
    const have = [...select.options].slice(1).map((o) => o.value);
    if (wanted.join('\n') !== have.join('\n')) {
      while (select.options.length > 1) select.remove(1);
      for (const v of wanted) {
        const option = document.createElement('option');
        option.value = v;
        option.textContent = v;
        select.append(option);
      }
      select.value = current;
    }
    $('preview-none').hidden = wanted.length > 0;
  }

  async function refresh() {
    clearTimeout(timer);
    try {
      const res = await fetch('/api/variants', { cache: 'no-store', headers: { accept: 'application/json' } });
      if (res.ok) {
        const { live } = await res.json();
        renderVariants(live);
        const mine = live.find((v) => v.variant === current);
        if (current) setStat('viewers', mine && mine.viewers ? `${mine.viewers.ts} TS · ${mine.viewers.hls} HLS` : '–');
        if (current && mine && mine.job) {
          const cluster = await fetch('/api/cluster', { cache: 'no-store', headers: { accept: 'application/json' } });
          if (cluster.ok) {
            const { workers } = await cluster.json();
            const job = workers.flatMap((w) => w.jobs).find((j) => j.id === mine.job.id);
            const p = job && job.progress;
            setStat('fps', p ? num(p.fps, 1) : '–');
            setStat('speed', p ? `${num(p.speed, 2)}×` : '–');
            setStat('worker', job ? mine.job.workerId : '–');
          }
        }
      }
    } catch {
      // the main view reports an unreachable coordinator
    } finally {
      if (!document.hidden) timer = setTimeout(refresh, POLL_MS);
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('preview-variant').addEventListener('change', (ev) => play(ev.target.value));
    $('preview-close').addEventListener('click', () => play(''));
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) void refresh();
    });
    void refresh();
  });
})();

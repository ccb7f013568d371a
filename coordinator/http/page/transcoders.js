// Transcoders page: polls /api/cluster and renders the cluster. Everything a worker
// reports (names, hosts, encoder reasons, GPU names) is untrusted, so the DOM is built
// with createElement + textContent only; innerHTML is never used. Cards are keyed by
// worker id and replaced only when their data changed, which keeps 200 workers cheap;
// at most PAGE cards are drawn at a time ("Show more" adds a page), so 1,000 stay cheap too.
'use strict';
(() => {
  const POLL_MS = 2000;
  const PAGE = 100;
  let pageLimit = PAGE; // cards drawn; reset when the filter changes
  const $ = (id) => document.getElementById(id);
  const cards = new Map(); // workerId -> { sig, node }
  const openDetails = new Set(); // `${workerId}:${kind}` of <details> the user opened
  let last = null;
  let timer = null;
  let inFlight = false;

  // ---- formatting -------------------------------------------------------------
  const num = (v, digits = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '–');
  function bytes(v) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
    return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  }
  function duration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, '0');
    return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
  }
  const ago = (ms) => (ms < 2000 ? 'just now' : `${duration(ms)} ago`);

  /** el('span', { class: 'x', data: { id } }, 'text', child) — strings become text nodes. */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'data') for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = String(dv);
      else if (k === 'class') node.className = v;
      else node.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }
  const stat = (k, v) => el('div', { class: 'stat' }, el('span', { class: 'k' }, k), el('span', { class: 'v' }, v));

  // ---- totals -----------------------------------------------------------------
  function setTotal(key, text) {
    const node = document.querySelector(`[data-total="${key}"]`);
    if (node) node.textContent = text;
  }
  function setSub(key, text) {
    const node = document.querySelector(`[data-total-sub="${key}"]`);
    if (node) node.textContent = text;
  }
  function renderTotals(t) {
    setTotal('workersOnline', num(t.workersOnline));
    setSub('workers', `${t.workersDraining} draining · ${t.workersOffline} offline · ${t.workers} known`);
    setTotal('gpuSlots', `${t.gpuSlotsUsed} / ${t.gpuSlotsFree}`);
    setTotal('cpuSlots', `${t.cpuSlotsUsed} / ${t.cpuSlotsFree}`);
    setTotal('runningJobs', num(t.runningJobs));
    setSub('pendingJobs', `${t.pendingJobs} starting · ${t.sessionsGpu} GPU · ${t.sessionsCpu} CPU`);
    setTotal('clientsConnected', num(t.clientsConnected));
    // A live job normally ends when its last client leaves (cancelled), rarely when its source ends (completed).
    setTotal('jobsCompleted', num(t.jobsCompleted + t.jobsCancelled));
    setSub('jobsCompleted', `${t.jobsCancelled} stopped (clients left, drain, cancel) · ${t.jobsCompleted} source ended`);
    setTotal('jobsFailed', num(t.jobsFailed));
    setSub('jobsReassigned', `${t.jobsReassigned} reassigned · ${t.runsFailed} runs gave up`);
    setTotal('bytes', `${bytes(t.bytesIn)} / ${bytes(t.bytesOut)}`);
  }

  // ---- one worker ---------------------------------------------------------------
  function usageStats(w) {
    const u = w.usage || {};
    const mem = typeof u.memoryUsedBytes === 'number' ? `${bytes(u.memoryUsedBytes)} / ${bytes(u.memoryTotalBytes)}` : '–';
    const s = w.slots;
    const out = [
      stat('CPU', typeof u.cpuPercent === 'number' ? `${num(u.cpuPercent, 1)} %` : '–'),
      stat('Memory', mem),
      stat('Load (1 min)', num(u.load1, 2)),
      stat('Speed test', w.speedFps ? `${num(w.speedFps)} fps` : '–'),
      // The link as the coordinator measures it (Ping/Pong on the control stream).
      el('div', { class: 'stat worker-rtt' }, el('span', { class: 'k' }, 'RTT'), el('span', { class: 'v' }, w.link && typeof w.link.rttMs === 'number' ? `${num(w.link.rttMs, 1)} ms` : '–')),
      stat('Jobs', `${s.used} / ${s.max}`),
      stat('GPU slots', `${s.gpuUsed} / ${s.gpuMax}`),
      stat('CPU slots', `${s.cpuUsed} / ${s.cpuMax}`),
      stat('Done / failed', `${w.jobsCompleted} / ${w.jobsFailed}`),
    ];
    for (const g of Array.isArray(u.gpus) ? u.gpus : []) {
      out.push(stat(`GPU ${g.index}`, `${num(g.utilizationPercent)} % · enc ${num(g.encoderPercent)} %`));
      out.push(stat(`GPU ${g.index} memory`, `${bytes(g.memoryUsedBytes)} / ${bytes(g.memoryTotalBytes)}`));
    }
    return el('div', { class: 'stats' }, out);
  }

  function encoderList(w) {
    const gpu = w.encoders.filter((e) => e.kind === 'gpu');
    const cpu = w.encoders.filter((e) => e.kind !== 'gpu');
    const chips = (list, kind) => list.map((e) => el('span', { class: `badge ${kind}`, title: `${e.codec} · ${e.family}` }, e.name));
    return [
      el('div', { class: 'encoders gpu-encoders' }, el('span', { class: 'k' }, 'GPU encoders'), gpu.length ? chips(gpu, 'gpu') : el('span', { class: 'muted' }, 'none')),
      el('div', { class: 'encoders cpu-encoders' }, el('span', { class: 'k' }, 'CPU encoders'), cpu.length ? chips(cpu, 'cpu') : el('span', { class: 'muted' }, 'none')),
    ];
  }

  function details(w, kind, summary, items) {
    if (!items.length) return null;
    const node = el('details', { class: kind, open: openDetails.has(`${w.id}:${kind}`) }, el('summary', {}, summary), el('ul', {}, items));
    node.addEventListener('toggle', () => {
      if (node.open) openDetails.add(`${w.id}:${kind}`);
      else openDetails.delete(`${w.id}:${kind}`);
    });
    return node;
  }

  function jobsTable(w, now) {
    if (!w.jobs.length) return el('div', { class: 'no-jobs' }, 'no jobs');
    const head = el('tr', {}, ['Variant', 'Encoder', 'State', 'fps', 'Speed', 'Bitrate', 'Uptime', 'Clients', 'Out', 'Link in / out'].map((h) => el('th', {}, h)));
    const linkJobs = new Map(((w.link && w.link.jobs) || []).map((l) => [l.jobId, l]));
    const rows = w.jobs.map((j) => {
      const p = j.progress;
      const l = linkJobs.get(j.id);
      return el(
        'tr',
        { class: 'job', data: { jobId: j.id, variant: j.variant } },
        el('td', { class: 'job-variant', title: `job ${j.id} · run ${j.runId}` }, j.variant || j.id, j.role === 'standby' ? ' (standby)' : ''),
        el('td', {}, el('span', { class: `badge ${j.kind === 'gpu' ? 'gpu' : 'cpu'}` }, j.encoder)),
        el('td', { class: 'job-state' }, j.state, j.attempt > 1 ? ` #${j.attempt}` : ''),
        el('td', { class: 'job-fps' }, p ? num(p.fps, 1) : '–'),
        el('td', { class: 'job-speed' }, p ? `${num(p.speed, 2)}×` : '–'),
        el('td', {}, p ? `${num(p.bitrateKbps)} kb/s` : '–'),
        el('td', { class: 'job-uptime' }, duration(now - j.startedAt)),
        el('td', { class: 'job-clients' }, num(j.clients), viewersByFormat(j.variant)),
        el('td', {}, bytes(j.bytesOut)),
        el('td', { class: 'job-link', title: l ? `${l.lanes} job stream lane(s)` : '' }, l ? `${num(l.inKbps)} / ${num(l.outKbps)} kb/s` : '–'),
      );
    });
    return el('table', { class: 'jobs' }, el('thead', {}, head), el('tbody', {}, rows));
  }

  function renderWorker(w, now) {
    const stateBadge = el('span', { class: `badge worker-state ${w.state}` }, w.state);
    const actions = el('div', { class: 'actions' });
    if (w.state === 'online') actions.append(el('button', { type: 'button', data: { action: 'drain', workerId: w.id } }, 'Drain'));
    if (w.state === 'draining') actions.append(el('button', { type: 'button', data: { action: 'resume', workerId: w.id } }, 'Resume'));
    // Quarantine is for worker faults only; a reason without a quarantine means the breaker
    // was withheld (the last worker able to serve a codec). The admin can lift either.
    const withheld = !w.quarantined && Boolean(w.quarantineReason);
    const quarantine = w.quarantined
      ? el('span', { class: 'badge quarantine', title: w.quarantineReason || '' }, `quarantined ${duration(w.quarantinedUntil - now)}`)
      : withheld
        ? el('span', { class: 'badge quarantine withheld', title: w.quarantineReason }, 'faulty, kept in service')
        : null;
    if (w.quarantined || withheld) actions.append(el('button', { type: 'button', data: { action: 'unquarantine', workerId: w.id } }, 'Lift quarantine'));
    const gpus = (w.gpus || []).map((g) => el('li', {}, `${g.vendor || ''} ${g.name || ''} ${g.device ? `(${g.device})` : ''} ${g.memoryBytes ? bytes(g.memoryBytes) : ''}`.trim()));
    const rejected = (w.rejectedEncoders || []).map((e) => el('li', {}, el('strong', {}, e.name), `: ${e.reason}`));
    return el(
      'article',
      { class: 'worker', data: { workerId: w.id, state: w.state } },
      el('div', { class: 'worker-head' }, el('span', { class: 'worker-name' }, w.name), stateBadge, quarantine, actions),
      el('div', { class: 'worker-id' }, w.id),
      el(
        'div',
        { class: 'meta' },
        [w.hostname, w.address, w.version && `v${w.version}`, w.ffmpegVersion && `FFmpeg ${w.ffmpegVersion}`].filter(Boolean).join(' · '),
        ` · seen ${ago(now - w.lastSeenAt)}`,
        w.quarantineReason ? el('span', { class: 'quarantine-reason' }, ` · ${w.quarantined ? 'quarantine' : 'breaker'}: ${w.quarantineReason}`) : '',
      ),
      usageStats(w),
      encoderList(w),
      details(w, 'gpus', `GPUs (${gpus.length})`, gpus),
      details(w, 'rejected', `Rejected encoders (${rejected.length})`, rejected),
      jobsTable(w, now),
    );
  }

  // ---- list ------------------------------------------------------------------
  function matches(w, needle, hideOffline) {
    if (hideOffline && w.state === 'offline') return false;
    if (!needle) return true;
    const hay = [w.name, w.id, w.hostname, w.state, ...w.encoders.map((e) => e.name), ...w.jobs.map((j) => j.variant)].join(' ').toLowerCase();
    return hay.includes(needle);
  }

  // ---- coordinators (cluster membership) ---------------------------------------
  // Every coordinator on the database: ids and counts only (addresses need the admin
  // token and are redacted otherwise). Text only: ids come from the database.
  function renderCoordinators(list, now) {
    const ul = $('coordinator-list');
    ul.replaceChildren(
      ...(list ?? []).map((c) => {
        const state = c.alive ? 'alive' : c.stoppedAt ? 'stopped' : `lease passed ${Math.max(0, Math.round((now - c.expiresAt) / 1000))} s ago`;
        const where = c.httpUrl && /^https?:\/\//.test(c.httpUrl) ? ` · ${c.httpUrl}` : '';
        return el(
          'li',
          { class: c.alive ? 'coordinator alive' : 'coordinator dead', 'data-coordinator': c.id },
          `${c.id}${c.self ? ' (this one)' : ''}: ${state} · ${c.workersAttached} workers · ${c.clients} clients · ${c.sourcesOwned} sources${where}`,
        );
      }),
    );
  }

  function render(data) {
    renderTotals(data.totals);
    renderCoordinators(data.coordinators, data.generatedAt);
    const now = data.generatedAt;
    const needle = $('filter').value.trim().toLowerCase();
    const hideOffline = $('hide-offline').checked;
    const container = $('workers');
    const seen = new Set();
    let prev = null;
    let shown = 0;
    for (const w of data.workers) {
      if (!matches(w, needle, hideOffline)) continue;
      shown += 1;
      if (shown > pageLimit) continue; // counted, not drawn
      seen.add(w.id);
      // lastSeenAt moves on every heartbeat; redraw for it only every few seconds.
      const sig = JSON.stringify([{ ...w, lastSeenAt: 0 }, Math.floor((now - w.lastSeenAt) / 5000), w.jobs.length ? now : 0]);
      let entry = cards.get(w.id);
      if (!entry || entry.sig !== sig) {
        const node = renderWorker(w, now);
        if (entry) entry.node.replaceWith(node);
        entry = { sig, node };
        cards.set(w.id, entry);
      }
      // Keep DOM order equal to the server's order (name, id) without re-inserting everything.
      const expected = prev ? prev.nextSibling : container.firstChild;
      if (expected !== entry.node) container.insertBefore(entry.node, expected);
      prev = entry.node;
    }
    for (const [id, entry] of cards) {
      if (!seen.has(id)) {
        entry.node.remove();
        cards.delete(id);
      }
    }
    const drawn = Math.min(shown, pageLimit);
    $('shown').textContent = drawn < shown ? `${drawn} of ${shown} matching (${data.workers.length} workers)` : `${shown} of ${data.workers.length} workers shown`;
    $('more').hidden = drawn >= shown;
    $('more').textContent = `Show ${Math.min(PAGE, shown - drawn)} more`;
    $('empty').hidden = data.workers.length > 0;
  }

  // ---- polling ---------------------------------------------------------------
  async function refresh() {
    if (inFlight) return;
    inFlight = true;
    clearTimeout(timer);
    try {
      // With the token the cluster view includes worker addresses; without it they are redacted.
      const res = await fetch('/api/cluster', { cache: 'no-store', headers: authHeaders({ accept: 'application/json' }) });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      last = await res.json();
      render(last);
      void refreshVariantFailures();
      const status = $('status');
      status.textContent = `updated ${new Date(last.generatedAt).toLocaleTimeString()}`;
      status.classList.remove('stale');
    } catch (err) {
      const status = $('status');
      status.textContent = `cannot reach the coordinator (${err && err.message ? err.message : err}); retrying`;
      status.classList.add('stale');
    } finally {
      inFlight = false;
      if (!document.hidden) timer = setTimeout(refresh, POLL_MS);
    }
  }

  // Viewers of each live variant by format (MPEG-TS, HLS), from /api/variants.
  let viewersByVariant = new Map();
  function viewersByFormat(variant) {
    const v = viewersByVariant.get(variant);
    return v ? el('span', { class: 'viewers-by-format' }, ` (TS ${num(v.ts)} · HLS ${num(v.hls)})`) : '';
  }

  // Variants that ended with a failure (an invalid profile, FFmpeg failing everywhere, no
  // worker): the variant's fault is shown here with its reason, not on a worker.
  async function refreshVariantFailures() {
    let section = $('variant-failures');
    if (!section) {
      section = el('section', { id: 'variant-failures', class: 'variant-failures', 'aria-label': 'Recently failed variants' });
      $('workers').before(section);
    }
    try {
      const res = await fetch('/api/variants', { cache: 'no-store', headers: authHeaders({ accept: 'application/json' }) });
      if (!res.ok) return;
      const body = await res.json();
      viewersByVariant = new Map((body.live || []).map((v) => [v.variant, v.viewers]));
      renderVariantHealth(body.live || []);
      const failed = (body.recentlyEnded || []).filter((v) => !/^(no clients left|source ended|coordinator shutting down)/.test(v.reason)).slice(0, 10);
      const sig = JSON.stringify(failed);
      if (section.dataset.sig === sig) return;
      section.dataset.sig = sig;
      section.replaceChildren(
        ...(failed.length
          ? [
              el('h2', {}, 'Recently failed variants'),
              el('ul', {}, failed.map((v) => el('li', { class: 'variant-failure', data: { variant: v.variant } }, el('strong', {}, v.variant), ` ${new Date(v.endedAt).toLocaleTimeString()}: ${v.reason}`))),
            ]
          : []),
      );
    } catch {
      // the next poll tries again
    }
  }

  // Live variants whose source misbehaves or whose output stalled: outages, a backup URL in
  // use, restarts after source changes, stall-watchdog restarts (README "Sources that change").
  function renderVariantHealth(live) {
    let section = $('variant-health');
    if (!section) {
      section = el('section', { id: 'variant-health', class: 'variant-failures', 'aria-label': 'Source and stall events of live variants' });
      $('workers').before(section);
    }
    const rows = live
      .filter((v) => v.source && (!v.source.connected || v.source.liveUrl > 0 || v.source.unsupported || v.sourceRestarts > 0 || v.stalls > 0))
      .slice(0, 20)
      .map((v) => {
        const parts = [];
        if (v.source.outageSince) parts.push(`source outage since ${new Date(v.source.outageSince).toLocaleTimeString()}`);
        if (v.source.liveUrl > 0) parts.push(`on backup URL ${v.source.liveUrl}`);
        if (v.source.unsupported) parts.push(`source not followed: ${v.source.unsupported}`);
        if (v.sourceRestarts > 0) parts.push(`${num(v.sourceRestarts)} restart(s) after source changes${v.lastSourceEvent ? ` (last: ${v.lastSourceEvent.kind}: ${v.lastSourceEvent.detail})` : ''}`);
        if (v.stalls > 0) parts.push(`${num(v.stalls)} stall(s)${v.lastStall ? ` (last: ${v.lastStall.reason})` : ''}`);
        return el('li', { class: 'variant-health', data: { variant: v.variant } }, el('strong', {}, v.variant), ` ${parts.join(' · ')}`);
      });
    const sig = JSON.stringify(rows.map((r) => r.textContent));
    if (section.dataset.sig === sig) return;
    section.dataset.sig = sig;
    section.replaceChildren(...(rows.length ? [el('h2', {}, 'Sources and stalls'), el('ul', {}, rows)] : []));
  }

  // ---- actions ---------------------------------------------------------------
  // The admin token is asked for once, at the first action, and kept in this browser's
  // localStorage (same origin only) until it is refused. It is printed by the coordinator
  // at its first start.
  const tokenKey = 'tvarr-admin-token';
  let pendingAction = null;
  function storedToken() {
    try {
      return localStorage.getItem(tokenKey);
    } catch {
      return null;
    }
  }
  function authHeaders(headers) {
    const token = storedToken();
    if (token) headers.authorization = `Bearer ${token}`;
    return headers;
  }
  function askForToken(retry) {
    pendingAction = retry;
    $('token-form').hidden = false;
    $('token').focus();
  }
  async function act(action, workerId, button) {
    $('action-error').textContent = '';
    if (!storedToken()) {
      askForToken(() => act(action, workerId, button));
      $('action-error').textContent = 'enter the admin token to continue';
      return;
    }
    button.disabled = true;
    try {
      const res = await fetch(`/api/workers/${encodeURIComponent(workerId)}/${action}`, { method: 'POST', headers: authHeaders({ accept: 'application/json' }) });
      if (res.status === 401) {
        localStorage.removeItem(tokenKey);
        askForToken(() => act(action, workerId, button));
        throw new Error('the admin token was refused: enter it again');
      }
      if (!res.ok) {
        const body = await res.json().catch(() => null);
        throw new Error((body && body.error && body.error.message) || `HTTP ${res.status}`);
      }
    } catch (err) {
      $('action-error').textContent = `${action} ${workerId}: ${err && err.message ? err.message : err}`;
    } finally {
      button.disabled = false;
      void refresh();
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('workers').addEventListener('click', (ev) => {
      const button = ev.target instanceof Element ? ev.target.closest('button[data-action]') : null;
      if (button) void act(button.dataset.action, button.dataset.workerId, button);
    });
    const rerender = () => last && render(last);
    const refilter = () => {
      pageLimit = PAGE;
      rerender();
    };
    $('filter').addEventListener('input', refilter);
    $('hide-offline').addEventListener('change', refilter);
    $('more').addEventListener('click', () => {
      pageLimit += PAGE;
      rerender();
    });
    $('token-form').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const value = $('token').value.trim();
      if (!value) return;
      localStorage.setItem(tokenKey, value);
      $('token').value = '';
      $('token-form').hidden = true;
      $('action-error').textContent = '';
      const retry = pendingAction;
      pendingAction = null;
      if (retry) void retry();
      else void refresh();
    });
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) void refresh();
    });
    void refresh();
  });
})();

// lore admin page: plain ES module, no dependencies, no build step.
// Talks only to the lore HTTP API of the server that served it (same origin).

const $ = (sel, root = document) => root.querySelector(sel);

// ---------------------------------------------------------------------------------------
// Small DOM helpers. Everything that comes from the server goes in as text, never as HTML.

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

// ---------------------------------------------------------------------------------------
// Formatting

const LANGUAGES = [
  ['en', 'English'], ['es', 'Spanish'], ['pt', 'Portuguese'], ['fr', 'French'], ['de', 'German'],
  ['it', 'Italian'], ['nl', 'Dutch'], ['ru', 'Russian'], ['uk', 'Ukrainian'], ['pl', 'Polish'],
  ['tr', 'Turkish'], ['vi', 'Vietnamese'], ['ja', 'Japanese'], ['zh', 'Chinese'], ['ko', 'Korean'],
  ['ar', 'Arabic'],
];
const KIND_LABEL = { file: 'File', url: 'Website', text: 'Text', catalog: 'Catalog' };

function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  n = Number(n);
  if (n < 1024) return `${n} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let i = -1;
  do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function toDate(t) {
  if (t === null || t === undefined || t === '') return null;
  if (typeof t === 'number') return new Date(t > 1e12 ? t : t * 1000);
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? null : d;
}

function fmtTime(t) {
  const d = toDate(t);
  if (!d) return '—';
  const s = Math.round((Date.now() - d.getTime()) / 1000);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return d.toLocaleDateString();
}

function timeEl(t) {
  const d = toDate(t);
  if (!d) return document.createTextNode('—');
  return h('time', { datetime: d.toISOString(), title: d.toLocaleString() }, fmtTime(t));
}

function fmtNum(n) {
  return n === null || n === undefined ? '—' : Number(n).toLocaleString();
}

function splitList(s) {
  return s.split(/[,\n]/).map((x) => x.trim()).filter(Boolean);
}

/** "page 2", "Prices row 5", "lines 3–4", the URL: whatever the location holds. */
function fmtLocation(loc) {
  if (!loc || typeof loc !== 'object') return typeof loc === 'string' ? loc : '';
  const range = (a, b, one, many) => (a === undefined ? '' : b === undefined || b === a ? `${one} ${a}` : `${many} ${a}–${b}`);
  const parts = [];
  if (loc.page_start !== undefined) parts.push(range(loc.page_start, loc.page_end, 'page', 'pages'));
  if (loc.sheet !== undefined) parts.push(`sheet ${loc.sheet}`);
  if (loc.row_start !== undefined) parts.push(range(loc.row_start, loc.row_end, 'row', 'rows'));
  if (loc.line_start !== undefined) parts.push(range(loc.line_start, loc.line_end, 'line', 'lines'));
  return parts.join(', ');
}

function headingText(hd) {
  if (Array.isArray(hd)) return hd.join(' › ');
  return hd || '';
}

// ---------------------------------------------------------------------------------------
// Session and API

const store = window.sessionStorage;
const state = {
  kb: store.getItem('lore.kb') || '',
  key: store.getItem('lore.key') || '',
  sources: [],
  agents: [],
  /** The id of the agent whose rename form is open. */
  renaming: null,
  jobs: [],
  uploadsInFlight: 0,
  detailId: null,
  detail: null,
  chunkLimit: 20,
  pollTimer: null,
  loaded: false,
};

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function kbPath(path) {
  return `/v1/kb/${encodeURIComponent(state.kb)}${path}`;
}

async function api(method, path, body) {
  const headers = { Authorization: `Bearer ${state.key}`, Accept: 'application/json' };
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(kbPath(path), init);
  } catch (e) {
    throw new ApiError(0, 'network', 'the server cannot be reached');
  }
  return readAnswer(res.status, await res.text());
}

function readAnswer(status, text) {
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (status >= 200 && status < 300) return data ?? {};
  const err = data && data.error ? data.error : {};
  const e = new ApiError(status, err.code || `http-${status}`, err.message || text || `the server answered ${status}`);
  if (status === 401 && state.loaded) {
    logout(`Your key was refused (${e.message}). Log in again.`);
  }
  throw e;
}

function errText(e) {
  return e instanceof ApiError ? `${e.message} (${e.code})` : String(e.message || e);
}

// ---------------------------------------------------------------------------------------
// Status messages

let statusTimer = null;
function say(msg) {
  const el = $('#status');
  el.textContent = msg;
  el.classList.add('show');
  clearTimeout(statusTimer);
  statusTimer = setTimeout(() => el.classList.remove('show'), 6000);
}

function fail(msg) {
  const el = $('#alert');
  clear(el);
  append(el, [h('span', {}, msg), h('button', {
    type: 'button', class: 'link', 'aria-label': 'Dismiss message', onclick: () => { el.hidden = true; },
  }, '×')]);
  el.hidden = false;
}

function clearFail() {
  $('#alert').hidden = true;
}

async function act(label, fn) {
  clearFail();
  try {
    const r = await fn();
    if (label) say(label);
    return r;
  } catch (e) {
    fail(errText(e));
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------
// Login

async function login(kb, key) {
  state.kb = kb;
  state.key = key;
  const who = await api('GET', '/whoami');
  if (who.role !== 'admin') {
    throw new ApiError(403, 'not-admin', 'this is an agent key; the admin page needs an admin key');
  }
  store.setItem('lore.kb', kb);
  store.setItem('lore.key', key);
  showApp();
}

function logout(message) {
  store.removeItem('lore.kb');
  store.removeItem('lore.key');
  state.key = '';
  state.loaded = false;
  stopPolling();
  $('#app').hidden = true;
  $('#session').hidden = true;
  $('#login-view').hidden = false;
  $('#login-kb').value = state.kb;
  $('#login-key').value = '';
  const err = $('#login-error');
  err.textContent = message || '';
  err.hidden = !message;
  $(state.kb ? '#login-key' : '#login-kb').focus();
}

function showApp() {
  $('#login-view').hidden = true;
  $('#app').hidden = false;
  $('#session').hidden = false;
  $('#session-kb').textContent = state.kb;
  state.loaded = true;
  selectTab('sources', false);
  refresh();
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const kb = $('#login-kb').value.trim();
  const key = $('#login-key').value.trim();
  const err = $('#login-error');
  if (!kb || !key) {
    err.textContent = 'Enter the knowledge base name and its admin key.';
    err.hidden = false;
    $(kb ? '#login-key' : '#login-kb').focus();
    return;
  }
  $('#login-submit').disabled = true;
  try {
    await login(kb, key);
    err.hidden = true;
    say(`Logged in to ${kb}.`);
    $('#main').focus();
  } catch (e) {
    state.key = '';
    err.textContent = e.status === 401 || e.status === 404
      ? 'That knowledge base and key do not match.'
      : `Could not log in: ${errText(e)}`;
    err.hidden = false;
    $('#login-key').focus();
  } finally {
    $('#login-submit').disabled = false;
  }
});

$('#logout').addEventListener('click', () => logout());

// ---------------------------------------------------------------------------------------
// Tabs

const TABS = ['sources', 'test', 'gaps'];
function selectTab(name, focus = true) {
  for (const t of TABS) {
    const tab = $(`#tab-${t}`);
    const on = t === name;
    tab.setAttribute('aria-selected', String(on));
    tab.tabIndex = on ? 0 : -1;
    $(`#view-${t}`).hidden = !on;
    if (on && focus) tab.focus();
  }
  if (name === 'gaps') loadGapsAndUsage();
  if (name === 'test') fillAgentSelect();
}

$('#tablist').addEventListener('click', (ev) => {
  const tab = ev.target.closest('[role=tab]');
  if (tab) selectTab(tab.id.slice(4));
});
$('#tablist').addEventListener('keydown', (ev) => {
  const cur = TABS.findIndex((t) => $(`#tab-${t}`).getAttribute('aria-selected') === 'true');
  let next = null;
  if (ev.key === 'ArrowRight') next = (cur + 1) % TABS.length;
  else if (ev.key === 'ArrowLeft') next = (cur + TABS.length - 1) % TABS.length;
  else if (ev.key === 'Home') next = 0;
  else if (ev.key === 'End') next = TABS.length - 1;
  if (next !== null) {
    ev.preventDefault();
    selectTab(TABS[next]);
  }
});

// ---------------------------------------------------------------------------------------
// Sources table and polling

function isBusy() {
  return state.uploadsInFlight > 0
    || state.sources.some((s) => s.status === 'processing')
    || state.jobs.some((j) => j.state === 'queued' || j.state === 'running');
}

function stopPolling() {
  clearTimeout(state.pollTimer);
  state.pollTimer = null;
}

function schedulePoll() {
  stopPolling();
  if (!state.loaded) return;
  // Fast while something is processing, slow otherwise (scheduled re-syncs run on the server).
  state.pollTimer = setTimeout(() => {
    if (document.hidden && !isBusy()) schedulePoll();
    else refresh();
  }, isBusy() ? 1000 : 15000);
}

let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    try {
      const [src, ag, jobs] = await Promise.all([
        api('GET', '/sources'),
        api('GET', '/agents'),
        api('GET', '/jobs').catch(() => ({ jobs: [] })),
      ]);
      state.sources = src.sources || [];
      state.agents = ag.agents || [];
      state.jobs = jobs.jobs || [];
      renderSources();
      renderAgents();
      if (state.detailId !== null) await loadDetail(false);
    } catch (e) {
      if (state.loaded) fail(`Could not load the sources: ${errText(e)}`);
    } finally {
      refreshing = null;
      schedulePoll();
    }
  })();
  return refreshing;
}

$('#refresh').addEventListener('click', () => refresh().then(() => say('Sources refreshed.')));

function agentNamesOf(source) {
  const ids = new Set((source.agents || []).map(String));
  for (const a of state.agents) {
    if ((a.sources || []).map(String).includes(String(source.id))) ids.add(String(a.id));
  }
  return state.agents.filter((a) => ids.has(String(a.id))).map((a) => a.name);
}

function jobOf(source) {
  const mine = state.jobs.filter((j) => String(j.source_id) === String(source.id)
    && (j.state === 'running' || j.state === 'queued'));
  return mine.find((j) => j.state === 'running') || mine[0] || null;
}

function failureOf(s) {
  const reason = s.reason ?? s.last_error?.reason ?? null;
  const message = s.message ?? s.last_error?.message ?? null;
  return reason || message ? { reason, message } : null;
}

/** The status cell: a badge, and progress, or the reason of a failure. */
function statusCell(s) {
  const status = s.status || 'ready';
  const wrap = h('div', { class: 'status-cell' }, h('span', { class: `badge st-${status}` }, status));
  if (status === 'processing') {
    const j = jobOf(s);
    const p = j && j.progress;
    if (p && p.total) {
      wrap.append(h('progress', { value: p.done, max: p.total, 'aria-label': `Progress of ${s.name}` }),
        h('span', { class: 'small' }, `${p.stage ? `${p.stage} ` : ''}${p.done}/${p.total}`));
    } else {
      wrap.append(h('progress', { 'aria-label': `Progress of ${s.name}` }),
        h('span', { class: 'small' }, j ? (p?.stage || j.state) : 'queued'));
    }
  }
  const f = failureOf(s);
  if (f && (status === 'stale' || status === 'failed')) {
    wrap.append(h('span', { class: 'reason' },
      h('code', {}, f.reason || 'error'), f.message ? `: ${f.message}` : ''));
    if (status === 'stale' && s.active_version) {
      wrap.append(h('span', { class: 'small' }, `still serving v${s.active_version}`));
    }
  } else if (status === 'disabled') {
    wrap.append(h('span', { class: 'small' }, 'not used by any agent'));
  }
  return wrap;
}

function renderSources() {
  const body = $('#sources-body');
  const focusKey = document.activeElement?.dataset?.focus;
  clear(body);
  const counts = {};
  for (const s of state.sources) {
    counts[s.status] = (counts[s.status] || 0) + 1;
    const agents = agentNamesOf(s);
    const tr = h('tr', { 'data-source-id': s.id, 'data-name': s.name, 'data-kind': s.kind, 'data-status': s.status },
      h('td', { 'data-label': 'Name', class: 'name' },
        h('button', {
          type: 'button', class: 'link', 'data-focus': `open-${s.id}`,
          'aria-label': `Details of ${s.name}`, onclick: () => openDetail(s.id),
        }, s.name),
        (s.tags || []).length ? h('span', { class: 'tags' }, s.tags.map((t) => h('span', { class: 'tag' }, t))) : null),
      h('td', { 'data-label': 'Kind' }, KIND_LABEL[s.kind] || s.kind),
      h('td', { 'data-label': 'Language' }, s.language || '—'),
      h('td', { 'data-label': 'Status', class: 'status-col' }, statusCell(s)),
      h('td', { 'data-label': 'Active version', class: 'num' }, s.active_version ? `v${s.active_version}` : '—'),
      h('td', { 'data-label': 'Chunks', class: 'num' }, fmtNum(s.chunks)),
      h('td', { 'data-label': 'Size', class: 'num' }, fmtBytes(s.bytes)),
      h('td', { 'data-label': 'Last sync' }, timeEl(s.last_sync ?? s.updated_at)),
      h('td', { 'data-label': 'Agents' }, agents.length ? agents.join(', ') : '—'),
      h('td', { class: 'row-actions' }, rowActions(s)));
    body.append(tr);
  }
  $('#sources-empty').hidden = state.sources.length > 0;
  const summary = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(' · ');
  $('#sources-summary').textContent = state.sources.length ? `${state.sources.length} sources: ${summary}` : '';
  if (focusKey) document.querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
}

function rowActions(s) {
  const enabled = s.enabled !== false && s.status !== 'disabled';
  return [
    h('button', {
      type: 'button', class: 'secondary', 'data-focus': `sync-${s.id}`, 'aria-label': `Sync ${s.name}`,
      onclick: () => syncSource(s),
    }, 'Sync'),
    h('button', {
      type: 'button', class: 'secondary', 'data-focus': `toggle-${s.id}`,
      'aria-label': `${enabled ? 'Disable' : 'Enable'} ${s.name}`, onclick: () => setEnabled(s, !enabled),
    }, enabled ? 'Disable' : 'Enable'),
    h('button', {
      type: 'button', class: 'danger', 'data-focus': `remove-${s.id}`, 'aria-label': `Remove ${s.name}`,
      onclick: () => removeSource(s),
    }, 'Remove'),
  ];
}

async function syncSource(s) {
  await act(`Sync of ${s.name} started.`, () => api('POST', `/sources/${s.id}/sync`));
  refresh();
}

async function setEnabled(s, on) {
  await act(`${s.name} ${on ? 'enabled' : 'disabled'}.`, () => api('POST', `/sources/${s.id}/${on ? 'enable' : 'disable'}`));
  refresh();
}

function confirmDialog(title, text, okLabel) {
  const dlg = $('#confirm');
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  $('#confirm-ok').textContent = okLabel;
  const back = document.activeElement;
  return new Promise((resolve) => {
    dlg.addEventListener('close', () => {
      resolve(dlg.returnValue === 'ok');
      if (back && back.isConnected) back.focus();
    }, { once: true });
    dlg.returnValue = '';
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

async function removeSource(s) {
  const ok = await confirmDialog(`Remove ${s.name}?`,
    `This deletes the source, all its versions and its passages. Agents stop using it at once. This cannot be undone.`,
    'Remove');
  if (!ok) {
    say(`${s.name} kept.`);
    return;
  }
  const r = await act(`${s.name} removed.`, () => api('DELETE', `/sources/${s.id}`));
  if (r !== undefined && String(state.detailId) === String(s.id)) closeDetail();
  refresh();
}

// ---------------------------------------------------------------------------------------
// Adding sources

function fillLanguageSelects() {
  for (const sel of document.querySelectorAll('.lang-select')) {
    const any = sel.id === 'q-language' ? 'Any' : 'Detect automatically';
    append(sel, [h('option', { value: '' }, any), LANGUAGES.map(([v, l]) => h('option', { value: v }, `${l} (${v})`))]);
  }
}

function uploadFile(file, { catalog = false } = {}) {
  const tags = catalog ? [] : splitList($('#upload-tags').value);
  const language = catalog ? '' : $('#upload-language').value;
  const bar = h('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
  const note = h('span', { class: 'small' }, 'starting');
  const li = h('li', { 'data-file': file.name }, h('span', { class: 'file-name' }, file.name),
    h('span', { class: 'small' }, fmtBytes(file.size)), bar, note);
  const list = $('#uploads');
  list.prepend(li);
  // Keep the list short: the sources table is where a file's fate is shown.
  for (const old of [...list.children].slice(8)) if (old.dataset.state) old.remove();
  state.uploadsInFlight++;

  const form = new FormData();
  // Text fields first, so the server knows them before the file streams in.
  if (catalog) form.append('catalog', 'true');
  if (tags.length) form.append('tags', tags.join(','));
  if (language) form.append('language', language);
  form.append('file', file, file.name);

  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', kbPath('/sources/upload'));
    xhr.setRequestHeader('Authorization', `Bearer ${state.key}`);
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable) {
        bar.value = Math.round((ev.loaded / ev.total) * 100);
        note.textContent = `${bar.value}%`;
      }
    });
    const done = (ok, text) => {
      state.uploadsInFlight--;
      li.dataset.state = ok ? 'done' : 'failed';
      note.textContent = text;
      if (ok) bar.value = 100;
      else li.classList.add('failed');
      refresh();
      resolve(ok);
    };
    xhr.addEventListener('load', () => {
      try {
        readAnswer(xhr.status, xhr.responseText);
        done(true, 'uploaded');
        say(`${file.name} uploaded.`);
      } catch (e) {
        done(false, `refused: ${errText(e)}`);
        fail(`${file.name}: ${errText(e)}`);
      }
    });
    xhr.addEventListener('error', () => {
      done(false, 'failed: the connection was closed');
      fail(`${file.name}: the upload failed (the server closed the connection; is the file over the size limit?)`);
    });
    xhr.send(form);
  });
}

async function uploadFiles(files, opts) {
  const list = [...files];
  if (!list.length) return;
  say(`Uploading ${list.length} file${list.length > 1 ? 's' : ''}…`);
  // At most three uploads at a time.
  const queue = list.slice();
  const worker = async () => {
    while (queue.length) await uploadFile(queue.shift(), opts);
  };
  await Promise.all([worker(), worker(), worker()]);
}

const dropzone = $('#dropzone');
const fileInput = $('#file-input');
dropzone.addEventListener('click', () => fileInput.click());
dropzone.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' || ev.key === ' ') {
    ev.preventDefault();
    fileInput.click();
  }
});
fileInput.addEventListener('change', () => {
  uploadFiles(fileInput.files);
  fileInput.value = '';
});
for (const type of ['dragenter', 'dragover']) {
  dropzone.addEventListener(type, (ev) => {
    ev.preventDefault();
    dropzone.classList.add('over');
  });
}
dropzone.addEventListener('dragleave', () => dropzone.classList.remove('over'));
dropzone.addEventListener('drop', (ev) => {
  ev.preventDefault();
  dropzone.classList.remove('over');
  if (ev.dataTransfer?.files?.length) uploadFiles(ev.dataTransfer.files);
});
// A file dropped beside the zone must not make the browser leave the page to show it.
window.addEventListener('dragover', (ev) => ev.preventDefault());
window.addEventListener('drop', (ev) => ev.preventDefault());

$('#catalog-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const input = $('#catalog-file');
  if (!input.files.length) {
    fail('Choose a catalog file first.');
    input.focus();
    return;
  }
  const files = [...input.files];
  input.value = '';
  await uploadFiles(files, { catalog: true });
});

$('#url-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const url = $('#url-url').value.trim();
  if (!url) return;
  const hours = Number($('#url-every').value || 0);
  const body = {
    url,
    with_children: $('#url-children').checked,
    max_pages: Number($('#url-max-pages').value || 50),
    max_depth: Number($('#url-max-depth').value || 2),
    include: splitList($('#url-include').value),
    exclude: splitList($('#url-exclude').value),
    every_secs: hours > 0 ? Math.round(hours * 3600) : null,
    tags: splitList($('#url-tags').value),
    language: $('#url-language').value || null,
  };
  const r = await act(`Website ${url} added; fetching.`, () => api('POST', '/sources/url', body));
  if (r !== undefined) $('#url-url').value = '';
  refresh();
});

$('#text-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const title = $('#text-title').value.trim();
  const text = $('#text-body').value;
  if (!title || !text.trim()) {
    fail('A text needs a title and some text.');
    return;
  }
  const body = { title, text, tags: splitList($('#text-tags').value), language: $('#text-language').value || null };
  const r = await act(`Text “${title}” added.`, () => api('POST', '/sources/text', body));
  if (r !== undefined) {
    $('#text-title').value = '';
    $('#text-body').value = '';
  }
  refresh();
});

// ---------------------------------------------------------------------------------------
// Agents

function renderAgents() {
  const list = $('#agents-list');
  // The list is rebuilt on every refresh (polling): a rename being typed survives it.
  const editing = list.querySelector('input[data-rename]');
  const draft = editing
    ? { id: editing.dataset.rename, value: editing.value, focused: document.activeElement === editing }
    : null;
  clear(list);
  if (!state.agents.length) list.append(h('li', { class: 'empty' }, 'No agents yet.'));
  for (const a of state.agents) {
    const names = (a.sources || []).map((id) => state.sources.find((s) => String(s.id) === String(id))?.name)
      .filter(Boolean);
    const li = h('li', { 'data-agent': a.name }, h('strong', {}, a.name),
      h('span', { class: 'small' }, names.length ? ` — ${names.join(', ')}` : ' — no sources linked'),
      h('span', { class: 'agent-actions' },
        h('button', { type: 'button', class: 'secondary', 'aria-label': `Rename ${a.name}`, onclick: () => startRename(a) }, 'Rename'),
        h('button', { type: 'button', class: 'danger', 'aria-label': `Delete ${a.name}`, onclick: () => deleteAgent(a) }, 'Delete')));
    if (state.renaming === String(a.id)) li.append(renameForm(a, draft && draft.id === String(a.id) ? draft : null));
    list.append(li);
  }
  fillAgentSelect();
}

function renameForm(a, draft) {
  const input = h('input', {
    'aria-label': `New name for ${a.name}`, 'data-rename': String(a.id), required: true,
    value: draft ? draft.value : a.name,
  });
  const form = h('form', {
    class: 'inline-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      if (!name) return;
      const r = await act(`Agent ${a.name} renamed to ${name}.`, () => api('PATCH', `/agents/${a.id}`, { name }));
      if (r !== undefined) state.renaming = null;
      refresh();
    },
  }, input, h('button', { type: 'submit' }, 'Save'),
  h('button', { type: 'button', class: 'secondary', onclick: () => { state.renaming = null; renderAgents(); } }, 'Cancel'));
  if (draft && draft.focused) queueMicrotask(() => input.focus());
  return form;
}

function startRename(a) {
  state.renaming = String(a.id);
  renderAgents();
  const input = $(`input[data-rename="${a.id}"]`);
  if (input) { input.focus(); input.select(); }
}

async function deleteAgent(a) {
  const ok = await confirmDialog(`Delete agent ${a.name}?`,
    `Its links and its API keys are deleted: keys given to ${a.name} stop working at once. The sources stay in the library.`,
    'Delete');
  if (!ok) {
    say(`${a.name} kept.`);
    return;
  }
  await act(`Agent ${a.name} deleted.`, () => api('DELETE', `/agents/${a.id}`));
  refresh();
}

function fillAgentSelect() {
  const sel = $('#q-agent');
  const cur = sel.value;
  clear(sel);
  sel.append(h('option', { value: '' }, 'All enabled sources'));
  for (const a of state.agents) sel.append(h('option', { value: String(a.id) }, a.name));
  sel.value = [...sel.options].some((o) => o.value === cur) ? cur : '';
}

$('#agent-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const name = $('#agent-name').value.trim();
  if (!name) return;
  const r = await act(`Agent ${name} created.`, () => api('POST', '/agents', { name }));
  if (r !== undefined) $('#agent-name').value = '';
  refresh();
});

async function setLink(agent, source, on) {
  const path = `/agents/${encodeURIComponent(agent.id)}/sources/${source.id}`;
  await act(`${source.name} ${on ? 'linked to' : 'unlinked from'} ${agent.name}.`,
    () => api(on ? 'PUT' : 'DELETE', path));
  refresh();
}

// ---------------------------------------------------------------------------------------
// Source detail

async function openDetail(id) {
  state.detailId = id;
  state.chunkLimit = 20;
  state.chunkVersion = null;
  $('#detail').hidden = false;
  await loadDetail(true);
  $('#detail').scrollIntoView({ block: 'start' });
  $('#detail-title').focus();
}

function closeDetail() {
  const id = state.detailId;
  state.detailId = null;
  state.detail = null;
  state.settingsFor = null;
  $('#detail').hidden = true;
  document.querySelector(`[data-focus="open-${id}"]`)?.focus();
}
$('#detail-close').addEventListener('click', closeDetail);
$('#detail').addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape') closeDetail();
});

async function loadDetail(withChunks) {
  const id = state.detailId;
  let d;
  try {
    d = await api('GET', `/sources/${id}`);
  } catch (e) {
    if (e.status === 404) {
      closeDetail();
      return;
    }
    throw e;
  }
  if (state.detailId !== id) return;
  const prev = state.detail;
  state.detail = d;
  renderDetail(d);
  const changed = !prev || prev.active_version !== d.active_version
    || (prev.versions || []).length !== (d.versions || []).length;
  if (withChunks || changed) await loadChunks();
}

function renderDetail(d) {
  const focusKey = document.activeElement?.dataset?.focus;
  $('#detail-title').textContent = d.name;
  const facts = clear($('#detail-facts'));
  const fact = (k, v) => facts.append(h('div', {}, h('dt', {}, k), h('dd', {}, v)));
  fact('Kind', KIND_LABEL[d.kind] || d.kind);
  if (d.origin) {
    fact('Origin', /^https?:/.test(d.origin)
      ? h('a', { href: d.origin, rel: 'noopener noreferrer', target: '_blank' }, d.origin) : d.origin);
  }
  fact('Status', statusCell(d));
  fact('Active version', d.active_version ? `v${d.active_version}` : 'none');
  fact('Chunks', fmtNum(d.chunks));
  fact('Size', fmtBytes(d.bytes));
  fact('Last sync', timeEl(d.last_sync ?? d.updated_at));
  const web = d.options?.web;
  if (web) {
    fact('Crawl', `${web.with_children ? `child pages, up to ${web.max_pages} pages, depth ${web.max_depth}` : 'this page only'}`);
  }
  const every = d.options?.sync_every_secs ?? d.every_secs;
  if (every) fact('Re-sync', `every ${Math.round(every / 360) / 10} h`);

  // Settings: tags and language (PATCH). Built once per opened source, so polling does not
  // overwrite what the admin is typing.
  if (state.settingsFor !== d.id) {
    state.settingsFor = d.id;
    const tagsIn = h('input', { id: 'detail-tags', value: (d.tags || []).join(', '), 'aria-describedby': 'tags-hint' });
    const langSel = h('select', { id: 'detail-language' }, h('option', { value: '' }, 'Detect automatically'),
      LANGUAGES.map(([v, l]) => h('option', { value: v }, `${l} (${v})`)));
    langSel.value = d.language || '';
    clear($('#detail-settings')).append(h('form', {
      class: 'inline-form', onsubmit: async (ev) => {
        ev.preventDefault();
        await act('Settings saved.', () => api('PATCH', `/sources/${d.id}`,
          { tags: splitList(tagsIn.value), language: langSel.value || null }));
        refresh();
      },
    }, h('label', { for: 'detail-tags' }, 'Topic tags'), tagsIn,
    h('label', { for: 'detail-language' }, 'Language'), langSel,
    h('button', { type: 'submit', class: 'secondary' }, 'Save settings')));
  }
  const enabled = d.enabled !== false && d.status !== 'disabled';
  clear($('#detail-actions')).append(
    h('button', { type: 'button', 'data-focus': 'detail-sync', onclick: () => syncSource(d) }, 'Sync now'),
    h('button', {
      type: 'button', class: 'secondary', 'data-focus': 'detail-toggle', onclick: () => setEnabled(d, !enabled),
    }, enabled ? 'Disable source' : 'Enable source'),
    h('button', { type: 'button', class: 'danger', 'data-focus': 'detail-remove', onclick: () => removeSource(d) }, 'Remove source'));

  // Agents.
  const boxes = clear($('#detail-agent-boxes'));
  if (!state.agents.length) boxes.append(h('p', { class: 'hint' }, 'No agents yet: create one under Agents.'));
  const linked = new Set(agentNamesOf(d));
  for (const a of state.agents) {
    const cid = `link-${a.id}`;
    boxes.append(h('div', { class: 'check' },
      h('input', {
        type: 'checkbox', id: cid, checked: linked.has(a.name), 'data-focus': cid,
        onchange: (ev) => setLink(a, d, ev.target.checked),
      }),
      h('label', { for: cid }, a.name)));
  }

  // Versions.
  const vb = clear($('#versions-body'));
  const versions = [...(d.versions || [])].sort((a, b) => b.number - a.number);
  for (const v of versions) {
    const active = v.number === d.active_version;
    const notes = [];
    if (v.error) notes.push(h('li', { class: 'error' }, h('code', {}, v.error.reason), `: ${v.error.message}`));
    const st = v.stats || v;
    for (const w of v.warnings || []) notes.push(h('li', { class: 'warning' }, typeof w === 'string' ? w : JSON.stringify(w)));
    if (st.truncated) notes.push(h('li', { class: 'warning' }, 'truncated at a limit'));
    const canRevert = v.state === 'ready' && !v.pruned && !active;
    vb.append(h('tr', { 'data-version': v.number, 'data-state': v.state },
      h('td', { 'data-label': 'Version' }, `v${v.number}`, active ? h('span', { class: 'badge st-ready' }, 'active') : null),
      h('td', { 'data-label': 'State' }, v.pruned ? `${v.state} (pruned)` : v.state),
      h('td', { 'data-label': 'Created' }, timeEl(v.created_at)),
      h('td', { 'data-label': 'Size', class: 'num' }, fmtBytes(st.bytes)),
      h('td', { 'data-label': 'Pages', class: 'num' }, fmtNum(st.pages)),
      h('td', { 'data-label': 'Chunks', class: 'num' }, fmtNum(st.chunks)),
      h('td', { 'data-label': 'Warnings and errors' }, notes.length ? h('ul', { class: 'notes' }, notes) : '—'),
      h('td', { class: 'row-actions' }, canRevert ? h('button', {
        type: 'button', class: 'secondary', 'aria-label': `Revert to version ${v.number} of ${d.name}`, 'data-focus': `revert-${v.number}`,
        onclick: () => revertTo(d, v.number),
      }, `Revert to version ${v.number}`) : null)));
  }

  // Pages of a website.
  const pages = d.pages || [];
  $('#detail-pages-wrap').hidden = !pages.length;
  const pl = clear($('#detail-pages'));
  for (const p of pages) {
    pl.append(h('li', {}, h('a', { href: p.url, rel: 'noopener noreferrer', target: '_blank' }, p.url),
      p.note ? h('span', { class: 'small warning' }, ` — ${p.note}`) : null));
  }

  // Versions whose chunks can be previewed.
  const sel = $('#chunks-version');
  const cur = state.chunkVersion ?? d.active_version;
  clear(sel);
  for (const v of versions.filter((x) => x.state === 'ready' && !x.pruned)) {
    sel.append(h('option', { value: v.number }, `v${v.number}${v.number === d.active_version ? ' (active)' : ''}`));
  }
  if (cur) sel.value = String(cur);
  if (focusKey) $('#detail').querySelector(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
}

async function revertTo(d, version) {
  const r = await act(`${d.name} now serves version ${version}.`,
    () => api('POST', `/sources/${d.id}/revert`, { version }));
  if (r !== undefined) state.chunkVersion = version;
  await refresh();
  $('#detail-title').focus();
}

$('#chunks-version').addEventListener('change', (ev) => {
  state.chunkVersion = Number(ev.target.value);
  state.chunkLimit = 20;
  loadChunks();
});
$('#chunks-more').addEventListener('click', () => {
  state.chunkLimit += 20;
  loadChunks();
});

async function loadChunks() {
  const d = state.detail;
  const list = $('#chunks');
  const version = state.chunkVersion ?? d?.active_version;
  if (!d || !version) {
    clear(list).append(h('li', { class: 'empty' }, 'No ready version: nothing to preview.'));
    $('#chunks-more').hidden = true;
    return;
  }
  let r;
  try {
    r = await api('GET', `/sources/${d.id}/chunks?version=${version}`);
  } catch (e) {
    clear(list).append(h('li', { class: 'error' }, `Could not load the chunks: ${errText(e)}`));
    return;
  }
  const chunks = r.chunks || [];
  clear(list);
  for (const c of chunks.slice(0, state.chunkLimit)) {
    const where = [headingText(c.heading ?? c.heading_path), fmtLocation(c.location)].filter(Boolean).join(' · ');
    list.append(h('li', {},
      h('p', { class: 'cite' }, `${d.name} v${version}`, where ? ` · ${where}` : '',
        c.location?.url ? [' · ', h('a', { href: c.location.url, rel: 'noopener noreferrer', target: '_blank' }, c.location.url)] : null),
      h('p', { class: 'passage' }, c.text)));
  }
  if (!chunks.length) list.append(h('li', { class: 'empty' }, 'This version has no chunks.'));
  $('#chunks-more').hidden = chunks.length <= state.chunkLimit;
}

// ---------------------------------------------------------------------------------------
// Test retrieval

/** Lowercase, without accents: the form both the query terms and passage words are compared in. */
function fold(s) {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

const STOP = new Set(['the', 'and', 'for', 'you', 'your', 'are', 'can', 'how', 'what', 'when', 'where', 'which', 'who',
  'does', 'with', 'that', 'this', 'from', 'los', 'las', 'del', 'una', 'por', 'para', 'que', 'como', 'com', 'uma', 'dos',
  'das', 'não', 'nao', 'have', 'has', 'will', 'there', 'any', 'about', 'long', 'much', 'many']);

/** Query terms as prefixes, so "returns" marks "return" and "returned" too (a crude stem). */
function queryStems(q) {
  const words = fold(q).match(/[\p{L}\p{N}]+/gu) || [];
  const stems = new Set();
  for (const w of words) {
    if (w.length < 3 || STOP.has(w)) continue;
    stems.add(w.length > 5 ? w.slice(0, w.length - 2) : w);
  }
  return [...stems];
}

/** The passage as text nodes with each word that starts with a query stem in <mark>. */
function highlighted(text, stems) {
  const out = document.createDocumentFragment();
  if (!stems.length) {
    out.append(text);
    return out;
  }
  const re = /[\p{L}\p{N}]+/gu;
  let last = 0;
  for (const m of text.matchAll(re)) {
    const f = fold(m[0]);
    if (stems.some((s) => f.startsWith(s))) {
      if (m.index > last) out.append(text.slice(last, m.index));
      out.append(h('mark', {}, m[0]));
      last = m.index + m[0].length;
    }
  }
  if (last < text.length) out.append(text.slice(last));
  return out;
}

function citationOf(hit) {
  const c = hit.citation && typeof hit.citation === 'object' ? hit.citation : {};
  return {
    name: c.source_name ?? hit.source_name ?? '',
    sourceId: c.source_id ?? hit.source_id,
    version: c.version ?? hit.version,
    heading: headingText(c.heading ?? c.heading_path ?? hit.heading_path),
    location: c.location ?? hit.location,
    line: typeof hit.citation === 'string' ? hit.citation : null,
  };
}

function productFields(fields) {
  if (!fields || typeof fields !== 'object') return null;
  const keys = ['name', 'price', 'currency', 'stock', 'sku', 'link'];
  const items = keys.filter((k) => fields[k] !== undefined && fields[k] !== null && fields[k] !== '')
    .map((k) => h('div', {}, h('dt', {}, k), h('dd', {}, k === 'link'
      ? h('a', { href: fields[k], rel: 'noopener noreferrer', target: '_blank' }, fields[k]) : String(fields[k]))));
  return items.length ? h('dl', { class: 'facts product' }, items) : null;
}

$('#search-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const query = $('#q').value.trim();
  if (!query) {
    $('#q').focus();
    return;
  }
  const body = { query, k: Number($('#q-k').value || 5) };
  // No mode: the server uses the best one this knowledge base has.
  const mode = document.querySelector('input[name=mode]:checked').value;
  if (mode) body.mode = mode;
  const agent = $('#q-agent').value;
  if (agent) body.agent = /^\d+$/.test(agent) ? Number(agent) : agent;
  if ($('#q-kind').value) body.kinds = [$('#q-kind').value];
  if ($('#q-language').value) body.languages = [$('#q-language').value];
  if ($('#q-tag').value.trim()) body.tags = splitList($('#q-tag').value);
  if ($('#q-instock').checked) body.in_stock = true;
  const submit = ev.submitter || $('#search-form button[type=submit]');
  submit.disabled = true;
  const r = await act(null, () => api('POST', '/search', body));
  submit.disabled = false;
  if (r === undefined) return;
  renderResults(r, query);
});

function renderResults(r, query) {
  $('#results').hidden = false;
  const hits = r.hits || [];
  const conf = typeof r.confidence === 'number' ? r.confidence.toFixed(2) : '—';
  const summary = clear($('#results-summary'));
  const results = $('#results');
  results.dataset.nothingRelevant = String(!!r.nothing_relevant);
  results.dataset.seq = String(Number(results.dataset.seq || 0) + 1);
  if (r.nothing_relevant) {
    summary.append(h('strong', { class: 'nothing' }, 'Nothing relevant.'),
      ` The agent would get no passage for this question (confidence ${conf}). It is counted as a knowledge gap.`);
  } else {
    summary.append(`${hits.length} passage${hits.length === 1 ? '' : 's'} · confidence ${conf}${r.mode ? ` · mode ${r.mode}` : ''}`);
  }
  const list = clear($('#hits'));
  const stems = queryStems(query);
  hits.forEach((hit, i) => {
    const c = citationOf(hit);
    const loc = fmtLocation(c.location);
    const url = c.location && typeof c.location === 'object' ? c.location.url : null;
    const cite = h('p', { class: 'cite' },
      h('span', { class: 'rank' }, `#${i + 1}`), ' ',
      h('strong', { class: 'cite-source' }, c.name), c.version ? ` v${c.version}` : '',
      c.heading ? ` · ${c.heading}` : '', loc ? ` · ${loc}` : '',
      url ? [' · ', h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url)] : null,
      h('span', { class: 'score', title: 'relevance score' }, `score ${Number(hit.score).toFixed(3)}`));
    list.append(h('li', { class: 'hit', 'data-source': c.name, 'data-version': c.version ?? '' },
      cite,
      c.line ? h('p', { class: 'small' }, c.line) : null,
      h('p', { class: 'passage' }, highlighted(hit.text || '', stems)),
      productFields(hit.fields ?? hit.product)));
  });
  say(r.nothing_relevant ? 'Nothing relevant found.' : `${hits.length} passage${hits.length === 1 ? '' : 's'} found.`);
  $('#results-title').focus();
}

// ---------------------------------------------------------------------------------------
// Gaps and usage

/** Quota name → [label, what it is measured against, unit]. */
const QUOTAS = {
  max_sources: ['Sources', (u) => u.sources, 'count'],
  max_storage_bytes: ['Storage', (u) => u.storage_bytes, 'bytes'],
  parse_jobs_per_hour: ['Parse jobs per hour', (u) => u.today?.parses, 'rate', 'parses today'],
  searches_per_minute: ['Searches per minute', (u) => u.today?.searches, 'rate', 'searches today'],
};

async function loadGapsAndUsage() {
  const [g, u] = await Promise.all([
    act(null, () => api('GET', '/gaps')),
    act(null, () => api('GET', '/usage')),
  ]);
  if (g) renderGaps(g.gaps || []);
  if (u) renderUsage(u);
}

function renderGaps(gaps) {
  const body = clear($('#gaps-body'));
  for (const gp of gaps) {
    body.append(h('tr', { 'data-query': gp.query },
      h('td', { 'data-label': 'Question' }, gp.query),
      h('td', { 'data-label': 'Times asked', class: 'num' }, fmtNum(gp.count)),
      h('td', { 'data-label': 'Best confidence', class: 'num' }, typeof gp.best_confidence === 'number' ? gp.best_confidence.toFixed(2) : '—'),
      h('td', { 'data-label': 'Last asked' }, timeEl(gp.last_seen))));
  }
  $('#gaps-empty').hidden = gaps.length > 0;
}

function renderUsage(u) {
  const box = clear($('#usage-quotas'));
  const quotas = u.quotas || {};
  for (const [key, limit] of Object.entries(quotas)) {
    const [label, current, unit, note] = QUOTAS[key] || [key.replace(/_/g, ' '), () => undefined, 'count'];
    const fmt = unit === 'bytes' ? fmtBytes : fmtNum;
    const cur = current(u);
    const limited = typeof limit === 'number';
    const id = `quota-${key}`;
    let text;
    if (unit === 'rate') {
      text = `${limited ? `at most ${fmtNum(limit)}` : 'no limit'}${typeof cur === 'number' ? ` · ${fmtNum(cur)} ${note}` : ''}`;
    } else {
      text = `${typeof cur === 'number' ? fmt(cur) : '—'} of ${limited ? fmt(limit) : 'no limit'}`;
    }
    box.append(h('div', { class: 'meter-row', 'data-quota': key },
      h('span', { id, class: 'meter-label' }, label),
      unit !== 'rate' && limited && typeof cur === 'number' && limit > 0
        ? h('meter', { min: 0, max: limit, value: Math.min(cur, limit), low: limit * 0.6, high: limit * 0.85, optimum: 0, 'aria-labelledby': id })
        : h('span', {}),
      h('span', { class: 'small' }, text)));
  }
  const today = u.today || {};
  if (Object.keys(today).length) {
    box.append(h('p', { class: 'today' }, h('strong', {}, 'Today: '),
      Object.entries(today).filter(([k]) => k !== 'day').map(([k, v]) => `${fmtNum(v)} ${k}`).join(' · ')));
  }
  const body = clear($('#usage-days'));
  const days = u.days || [];
  for (const d of days) {
    body.append(h('tr', {},
      h('td', { 'data-label': 'Day' }, d.day ?? d.date ?? '—'),
      ['Parses', 'Pages', 'Chunks', 'Embeddings', 'Searches'].map((k) => h('td', { 'data-label': k, class: 'num' }, fmtNum(d[k.toLowerCase()] ?? 0)))));
  }
}

// ---------------------------------------------------------------------------------------
// Start

fillLanguageSelects();
const params = new URLSearchParams(window.location.search);
if (!state.kb && params.get('kb')) state.kb = params.get('kb');
if (state.kb && state.key) {
  login(state.kb, state.key).catch(() => logout('Your session ended; log in again.'));
} else {
  logout();
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden && state.loaded) refresh();
});

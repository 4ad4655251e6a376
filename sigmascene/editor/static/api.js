// The page's only way to the server: the documented HTTP API (docs/editor.md). The token travels as the
// cookie the first visit set; every answer that carries the scene state goes through `apply`, and answers to
// requests older than the newest one sent are dropped, so a slow reply never undoes a newer edit on screen.

export const store = { state: null, maps: null, listeners: [], seq: 0, applied: 0, dragging: null };

export function onState(fn) { store.listeners.push(fn); }

function apply(state, seq) {
  if (seq < store.applied) return;  // stale answer
  store.applied = seq;
  if (store.dragging && store.state && store.state.scene && state.scene) {
    // mid-drag, the shape under the mouse is newer than any answer: keep it
    const mine = store.state.scene.subjects.find((s) => s.name === store.dragging);
    const theirs = state.scene.subjects.find((s) => s.name === store.dragging);
    if (mine && theirs) theirs.placement = mine.placement;
  }
  store.state = state;
  for (const fn of store.listeners) fn(state);
}

export async function call(method, path, body, { quiet = false } = {}) {
  const seq = ++store.seq;
  const opts = { method, headers: {}, credentials: "same-origin" };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(data.error || resp.statusText);
    err.status = resp.status; err.data = data;
    if (!quiet) status(err.message, true);
    throw err;
  }
  if (data && "source" in data && "revision" in data) apply(data, seq);
  return data;
}

export async function upload(file, name) {
  const resp = await fetch(`/api/files?name=${encodeURIComponent(name)}`, { method: "POST", body: file,
    credentials: "same-origin", headers: { "Content-Type": "application/octet-stream" } });
  const data = await resp.json();
  if (!resp.ok) throw new Error(data.error || resp.statusText);
  return data;
}

export function status(text, bad = false) {
  const el = document.getElementById("status");
  el.textContent = text;
  el.style.color = bad ? "#ff9b8f" : "#cfd";
  el.title = text;
}

export function debounce(fn, ms) {
  let t = null;
  const d = (...args) => { clearTimeout(t); t = setTimeout(() => { t = null; fn(...args); }, ms); };
  d.flush = () => { if (t) { clearTimeout(t); t = null; fn(); } };
  d.pending = () => t !== null;
  return d;
}

// preview.py's palette: golden-ratio hue steps, so neighbours in depth never look alike.
export function palette(n) {
  const out = [];
  for (let k = 0; k < n; k++) {
    const h = (0.08 + k * 0.618034) % 1, s = k % 2 ? 0.70 : 0.85, v = k % 3 ? 0.95 : 0.80;
    const i = Math.floor(h * 6), f = h * 6 - i, p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
    const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][i % 6];
    out.push(`rgb(${Math.floor(r * 255)},${Math.floor(g * 255)},${Math.floor(b * 255)})`);
  }
  return out;
}

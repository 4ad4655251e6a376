// The page: wires the state from the API to the view, the maps, the source pane and the panels.
import { call, debounce, onState, status, store } from "./api.js";
import { colours, draw, view } from "./view.js";
import { renderInspector, renderScenePanel, renderSubjects } from "./panels.js";
import { startRender } from "./render.js";

const $ = (id) => document.getElementById(id);
const source = $("source");
let typingKey = null;

// -- state -> screen -------------------------------------------------------------------------------------------
onState((st) => {
  $("filename").textContent = st.name + (st.new_file ? " (new)" : "");
  $("dirty").textContent = st.dirty ? "●" : "";
  showSaved();
  $("undo").disabled = !st.can_undo;
  $("redo").disabled = !st.can_redo;
  if (store.dragging && st.scene) {
    // mid-drag the shapes follow the mouse on their own (view.js): only the maps are fetched; the source pane,
    // lists and panels catch up with the release's answer, so each step costs the page no relayout
    refreshMaps();
    return;
  }
  if (source.value !== st.source && !sendSource.pending()) {
    const [a, b] = [source.selectionStart, source.selectionEnd];
    source.value = st.source;
    if (document.activeElement === source) source.setSelectionRange(a, b);
  }
  showDiagnostics(st.diagnostics);
  if (!st.scene) status(`the source has ${st.diagnostics.length} error${st.diagnostics.length === 1 ? "" : "s"}`, true);
  $("verror").hidden = !!st.scene;
  $("verror").textContent = st.scene ? "" : `The source has errors (the picture shows the last valid scene): ` +
    (st.diagnostics[0] ? `line ${st.diagnostics[0].line}: ${st.diagnostics[0].message}` : "");
  if (st.scene) {
    draw();
    renderSubjects();
    renderInspector();
    renderScenePanel();
    refreshMaps();
  }
  externalBanner(st.external_change);
});

// "saved" stays in the header until the next edit (any change of the text makes the file dirty again).
function showSaved() {
  const st = store.state, el = $("saved");
  const on = !!st && store.savedRevision !== undefined && !st.dirty && st.revision === store.savedRevision;
  el.hidden = !on;
  if (on && !el.dataset.at) el.dataset.at = new Date().toLocaleTimeString();
  if (!on) delete el.dataset.at;
  el.textContent = on ? `✓ saved ${el.dataset.at}` : "";
}

function showDiagnostics(diags) {
  const ul = $("diagnostics");
  ul.innerHTML = "";
  const dc = $("diagcount");
  dc.textContent = diags.length ? `${diags.length} error${diags.length > 1 ? "s" : ""}`
    : store.mapsError ? "does not compile" : "ok";
  dc.className = diags.length || store.mapsError ? "bad" : "good";
  for (const d of diags) {
    const li = document.createElement("li");
    li.textContent = d.text;
    li.dataset.line = d.line || "";
    li.dataset.column = d.column || "";
    li.addEventListener("click", () => selectAt(d.line, d.column));
    ul.appendChild(li);
  }
}

function selectAt(line, column) {
  if (!line) return;
  const lines = source.value.split("\n");
  let pos = 0;
  for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
  pos += (column || 1) - 1;
  source.focus();
  source.setSelectionRange(pos, pos + 1);
}

// -- live maps: one GET /api/frame per redraw (maps JSON + pictures), never two at once. A state that arrives
// while a frame is on its way asks for one more when it lands, so a drag gets frames back to back and the last
// position always gets its own; there is no timer between an edit and its maps.
// `store.frameQueued` tells a drag (view.js) that the server already holds a text whose maps are not on their way
// yet: it holds its next PATCH until they are, so the server parses about one text per frame it draws.
let frameBusy = false;
function refreshMaps() {
  if (frameBusy) { store.frameQueued = true; return; }
  frameBusy = true;
  loadFrame().finally(() => {
    frameBusy = false;
    if (store.frameQueued) { store.frameQueued = false; refreshMaps(); }
    window.dispatchEvent(new Event("sigmascene:frame"));
  });
}

function px(el, fallback) {
  const w = el ? el.clientWidth : 0;
  return Math.min(1024, Math.max(64, Math.round((w || fallback) * (window.devicePixelRatio || 1))));
}

function showWarnings(items) {
  const warn = $("warnings");
  const key = JSON.stringify(items);
  if (warn.dataset.shown === key) return;  // unchanged (most drag steps): no DOM work
  warn.dataset.shown = key;
  warn.innerHTML = "";
  for (const text of items) { const li = document.createElement("li"); li.textContent = text; warn.appendChild(li); }
}

// Two requests side by side, one compile: the maps (small, quick to draw) land first; the big layout picture under
// the shapes follows (mid-drag at half resolution: a quarter of the pixels to draw; release brings it sharp).
async function loadFrame() {
  const lay = px($("view"), 680);
  const mapsQ = `layout=0&maps=${px($("map-ir_asc"), 170)}` +
    (store.dragging ? "&identity=0" : `&method=${encodeURIComponent($("method").value)}`);
  // mid-drag the maps do not wait for the layout picture, and a layout still on its way is not asked for twice
  const layout = store.dragging ? (layoutJob ? null : loadLayout(Math.max(64, Math.round(lay / 2))))
    : (layoutJob || Promise.resolve()).then(() => loadLayout(lay));
  let info;
  try { info = await call("GET", `/api/frame?${mapsQ}`, undefined, { quiet: true }); } catch { await layout; return; }
  await showFrame(info);
  if (!store.dragging) await layout;
}

let layoutJob = null;
function loadLayout(size) {
  layoutJob = call("GET", `/api/frame?maps=0&layout=${size}`, undefined, { quiet: true }).then((f) => {
    if (f.error || Number(document.body.dataset.layoutRevision || -1) > f.revision) return;
    $("layout").src = f.images.layout;
    document.body.dataset.layoutRevision = f.revision;
  }).catch(() => {}).finally(() => { layoutJob = null; });
  return layoutJob;
}

async function showFrame(info) {
  if (info.error) {
    // valid text whose files fail (a missing reference, a bad mesh): the compiler's located errors
    store.mapsError = info.diagnostics.length ? info.diagnostics[0].message : "the scene does not compile";
    status(`maps: ${store.mapsError}`, true);
    showWarnings(info.diagnostics.map((d) => d.text));
    if (store.state && store.state.scene) {
      $("verror").hidden = false;
      $("verror").textContent = `The maps cannot be compiled: ${store.mapsError}`;
    }
    showDiagnostics(store.state ? store.state.diagnostics : []);
    return;
  }
  const wasError = store.mapsError;
  store.mapsError = null;
  for (const [n, url] of Object.entries(info.images)) (n === "layout" ? $("layout") : $(`map-${n}`)).src = url;
  if (!store.dragging) showModelSees(info);
  store.maps = info;
  $("mapsrev").textContent = `revision ${info.revision}`;
  showWarnings(info.warnings.concat(info.subjects.filter((e) => e.visible_fraction < 0.1)
    .map((e) => `${e.name} is almost hidden: ${(100 * e.visible_fraction).toFixed(0)}% visible`)));
  if (wasError) { showDiagnostics(store.state ? store.state.diagnostics : []); $("verror").hidden = !!(store.state && store.state.scene); }
  document.body.dataset.mapsRevision = info.revision;
  document.body.dataset.mapsFrames = Number(document.body.dataset.mapsFrames || 0) + 1;
  if (store.dragging) return;  // the legend and the subject list follow on release (see onState)
  renderLegend(info);
  draw();
  status(`maps updated (revision ${info.revision})`);
  renderSubjects();
}

// -- what the model sees: the render method's own input picture (the collage method's layout image) beside the
// maps; for a method without one (sigma) the model sees exactly the maps and I_S above.
function showModelSees(info) {
  const img = $("map-method"), note = $("method-note");
  img.hidden = !info.images.method;
  if (info.images.method) img.src = info.images.method;
  note.textContent = info.method_note || `the ${$("method").value} method: the model is given the maps and I_S shown`;
}

async function loadMethods() {
  let got;
  try { got = await call("GET", "/api/methods", undefined, { quiet: true }); } catch { return; }  // sigma only
  const sel = $("method");
  sel.innerHTML = "";
  for (const m of got.methods) {
    const o = document.createElement("option");
    o.value = m.name; o.textContent = m.name; o.title = m.summary || "";
    sel.appendChild(o);
  }
  sel.value = got.default;
}
$("method").onchange = () => refreshMaps();
loadMethods();

function renderLegend(info) {
  // name -> overlay colour (stable), with the routing intensity it has now (follows depth order)
  const ul = $("legend");
  ul.innerHTML = "";
  const cols = colours();
  const inten = Object.fromEntries(info.subjects.map((e) => [e.name, e.intensity]));
  for (const s of store.state.scene.subjects) {
    const li = document.createElement("li");
    li.dataset.name = s.name;
    li.innerHTML = `<span class="sw"></span><b></b> <small></small>`;
    li.querySelector(".sw").style.background = cols[s.name];
    li.querySelector("b").textContent = s.name;
    li.querySelector("small").textContent = inten[s.name] !== undefined ? `routing ${inten[s.name]}` : "";
    ul.appendChild(li);
  }
}

// -- source pane: typing updates the picture when the text is valid ------------------------------------------
const sendSource = debounce(async () => {
  await call("PUT", "/api/scene", { source: source.value, coalesce: typingKey }).catch(() => {});
}, 300);
let typingTimer = null;
source.addEventListener("input", () => {
  if (!typingKey) typingKey = `type-${Date.now()}`;
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => { typingKey = null; }, 1500);  // a pause ends one undo step
  sendSource();
});

// -- undo / redo / save -----------------------------------------------------------------------------------------
async function undo() { sendSource.flush(); typingKey = null; await call("POST", "/api/undo"); }
async function redo() { sendSource.flush(); typingKey = null; await call("POST", "/api/redo"); }
async function save(force = false) {
  sendSource.flush();
  try {
    const st = await call("POST", "/api/save", { force }, { quiet: true });
    store.savedRevision = st.revision;
    showSaved();
    status(`saved ${st.name}`);
  } catch (err) {
    if (err.status === 409) externalBanner(true, true);
    else status(err.message, true);
  }
}
$("undo").onclick = undo;
$("redo").onclick = redo;
$("save").onclick = () => save(false);
$("render").onclick = startRender;

document.addEventListener("keydown", (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (!mod) return;
  const k = e.key.toLowerCase();
  if (k === "s") { e.preventDefault(); save(false); }
  else if (k === "z" && !e.shiftKey) { e.preventDefault(); undo(); }
  else if ((k === "z" && e.shiftKey) || k === "y") { e.preventDefault(); redo(); }
});

window.addEventListener("beforeunload", (e) => {
  if (store.state && (store.state.dirty || sendSource.pending())) {
    e.preventDefault();
    e.returnValue = "The scene has unsaved changes.";  // older browsers want a non-empty string
    return e.returnValue;
  }
});

// -- another program changed the file ---------------------------------------------------------------------------
function externalBanner(on, fromSave = false) {
  const b = $("banner");
  if (!on) { b.hidden = true; return; }
  b.hidden = false;
  b.innerHTML = "";
  b.append(`${store.state ? store.state.name : "The file"} was changed on disk by another program. `);
  const reload = document.createElement("button");
  reload.textContent = "Reload from disk";
  reload.onclick = async () => { await call("POST", "/api/reload"); b.hidden = true; };
  const keep = document.createElement("button");
  keep.textContent = fromSave ? "Overwrite it with mine" : "Keep mine (save overwrites)";
  keep.onclick = async () => { if (fromSave) await save(true); b.hidden = true; };
  b.append(reload, keep);
}

setInterval(async () => {
  try {
    const s = await fetch("/api/status", { credentials: "same-origin" }).then((r) => r.json());
    if (s.external_change && $("banner").hidden) externalBanner(true);
  } catch { /* server gone */ }
}, 2000);

call("GET", "/api/scene").then(() => status("ready"));
export { refreshMaps };

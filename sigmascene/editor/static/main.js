// The page: wires the state from the API to the view, the maps, the source pane and the panels.
import { call, debounce, onState, status, store } from "./api.js";
import { draw, view } from "./view.js";
import { renderInspector, renderScenePanel, renderSubjects } from "./panels.js";
import { startRender } from "./render.js";

const $ = (id) => document.getElementById(id);
const source = $("source");
let typingKey = null;

// -- state -> screen -------------------------------------------------------------------------------------------
onState((st) => {
  $("filename").textContent = st.name + (st.new_file ? " (new)" : "");
  $("dirty").textContent = st.dirty ? "●" : "";
  $("undo").disabled = !st.can_undo;
  $("redo").disabled = !st.can_redo;
  if (source.value !== st.source && !sendSource.pending()) {
    const [a, b] = [source.selectionStart, source.selectionEnd];
    source.value = st.source;
    if (document.activeElement === source) source.setSelectionRange(a, b);
  }
  showDiagnostics(st.diagnostics);
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

function showDiagnostics(diags) {
  const ul = $("diagnostics");
  ul.innerHTML = "";
  $("diagcount").textContent = diags.length ? `${diags.length} error${diags.length > 1 ? "s" : ""}` : "ok";
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

// -- live maps: debounced; an answer older than the newest request is dropped -------------------------------
let mapsSeq = 0;
const refreshMaps = debounce(async () => {
  const seq = ++mapsSeq;
  let info;
  try { info = await call("GET", "/api/maps", undefined, { quiet: true }); } catch { return; }
  if (seq !== mapsSeq) return;  // stale
  if (info.error) {
    // valid text whose files fail (a missing reference, a bad mesh): the compiler's located errors
    status("maps: the scene does not compile", true);
    const warn = $("warnings");
    warn.innerHTML = "";
    for (const d of info.diagnostics) { const li = document.createElement("li"); li.textContent = d.text; warn.appendChild(li); }
    if (store.state && store.state.scene) {
      $("verror").hidden = false;
      $("verror").textContent = `The maps cannot be compiled: ${info.diagnostics.length ? info.diagnostics[0].message : ""}`;
    }
    return;
  }
  const imgs = ["layout", "ir_asc", "ir_desc", "i_t", "i_s"].map((n) => [n, new Image()]);
  await Promise.all(imgs.map(([n, im]) => new Promise((ok) => {
    im.onload = im.onerror = ok;
    const px = n === "layout" ? $("view").clientWidth : $("maps").clientWidth / 4;
    const size = Math.min(1024, Math.max(64, Math.round(px * (window.devicePixelRatio || 1))));
    im.src = `/api/maps/${n}.png?rev=${info.revision}&size=${size}&t=${Date.now()}`;
  })));
  if (seq !== mapsSeq) return;
  for (const [n, im] of imgs) (n === "layout" ? $("layout") : $(`map-${n}`)).src = im.src;
  store.maps = info;
  $("mapsrev").textContent = `revision ${info.revision}`;
  const warn = $("warnings");
  warn.innerHTML = "";
  for (const w of info.warnings) { const li = document.createElement("li"); li.textContent = w; warn.appendChild(li); }
  for (const e of info.subjects) {
    if (e.visible_fraction < 0.1) {
      const li = document.createElement("li");
      li.textContent = `${e.name} is almost hidden: ${(100 * e.visible_fraction).toFixed(0)}% visible`;
      warn.appendChild(li);
    }
  }
  document.body.dataset.mapsRevision = info.revision;
  if (!store.dragging) draw();
  renderSubjects();
  status(`maps updated (revision ${info.revision})`);
}, 120);

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
    await call("POST", "/api/save", { force }, { quiet: true });
    status("saved");
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

// Subjects list (far -> near, drag to reorder), inspector, and scene panel. Every change is one API call.
import { call, debounce, status, store, upload } from "./api.js";
import { colours, draw, view } from "./view.js";

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
view.onSelect = () => { renderSubjects(); renderInspector(); };

function subjectsFarToNear() {
  const st = store.state.scene;
  const order = store.maps && store.maps.order ? store.maps.order : st.subjects.map((s) => s.name);
  const known = order.filter((n) => st.subjects.some((s) => s.name === n));
  return known.concat(st.subjects.map((s) => s.name).filter((n) => !known.includes(n)));
}

export function renderSubjects() {
  const ol = $("subjects");
  ol.innerHTML = "";
  const cols = colours();
  const info = Object.fromEntries((store.maps && store.maps.subjects || []).map((e) => [e.name, e]));
  subjectsFarToNear().forEach((name, idx) => {
    const s = store.state.scene.subjects.find((q) => q.name === name);
    const e = info[name];
    const li = document.createElement("li");
    li.dataset.name = name;
    li.draggable = true;
    if (view.selected === name) li.classList.add("sel");
    const vis = e ? e.visible_fraction : null;
    if (vis !== null && vis < 0.1) li.classList.add("hidden-warn");
    li.innerHTML = `<span class="sw" style="background:${cols[name] || "#ccc"}"></span><b></b>
      <span class="meta"></span>`;
    li.querySelector("b").textContent = name;
    li.querySelector(".meta").textContent = `${s.placement.kind}${e && e.depth != null ? ` · ${e.depth.toFixed(2)} m` : ""}` +
      `${vis !== null ? ` · ${(100 * vis).toFixed(0)}%` : ""}${vis !== null && vis < 0.1 ? " ⚠" : ""}${s.editable ? "" : " · included"}`;
    li.onclick = () => { view.selected = name; renderSubjects(); renderInspector(); draw(); };
    li.addEventListener("dragstart", (ev) => { ev.dataTransfer.setData("text/plain", name); });
    li.addEventListener("dragover", (ev) => ev.preventDefault());
    li.addEventListener("drop", async (ev) => {
      ev.preventDefault();
      const moved = ev.dataTransfer.getData("text/plain");
      if (!moved || moved === name) return;
      const rest = subjectsFarToNear().filter((n) => n !== moved);
      const r = li.getBoundingClientRect();
      const index = rest.indexOf(name) + (ev.clientY > r.top + r.height / 2 ? 1 : 0);
      await call("POST", `/api/subjects/${enc(moved)}/reorder`, { index }).catch(() => {});
    });
    ol.appendChild(li);
  });
}

function field(parent, label, input) {
  const l = document.createElement("label");
  l.append(label, input);
  parent.appendChild(l);
  return input;
}

function input(value, type = "text") {
  const i = document.createElement("input");
  i.type = type;
  i.value = value === null || value === undefined ? "" : value;
  return i;
}

const patch = (name, body) => call("PATCH", `/api/subjects/${enc(name)}`, body).catch(() => {});

export function renderInspector() {
  const box = $("inspector");
  const st = store.state;
  const s = st && st.scene && st.scene.subjects.find((q) => q.name === view.selected);
  if (document.activeElement && box.contains(document.activeElement) && s && box.dataset.name === s.name) return;
  box.innerHTML = "";
  box.dataset.name = s ? s.name : "";
  if (!s) { box.innerHTML = '<p class="note">Click a subject in the picture or the list.</p>'; return; }
  if (!s.editable) {
    box.innerHTML = `<p class="note">Defined in ${s.loc.file}, an included file: open that file to edit it.</p>`;
    return;
  }
  const name = field(box, "name", input(s.name));
  name.id = "insp-name";
  name.onchange = () => { const n = name.value.trim(); view.selected = n; patch(s.name, { name: n }); };
  const cap = field(box, "caption", input(s.caption));
  cap.id = "insp-caption";
  cap.onchange = () => patch(s.name, { caption: cap.value });
  const kind = document.createElement("select");
  kind.id = "insp-kind";
  for (const k of ["box2d", "box3d", "polygon", "mask", "mesh"]) kind.add(new Option(k, k, false, k === s.placement.kind));
  field(box, "placement", kind);
  kind.onchange = () => {
    const e = (store.maps.subjects || []).find((q) => q.name === s.name);
    const { width: W, height: H } = st.scene.canvas;
    const bbox = e && e.bbox_px ? [e.bbox_px[0] / W, e.bbox_px[1] / H, e.bbox_px[2] / W, e.bbox_px[3] / H] : [0.3, 0.3, 0.7, 0.7];
    patch(s.name, { kind: kind.value, bbox });
  };
  const depth = field(box, "depth (m)", input(s.depth, "number"));
  depth.id = "insp-depth";
  depth.step = "0.1";
  depth.onchange = () => patch(s.name, { depth: depth.value === "" ? null : +depth.value });
  const info = document.createElement("p");
  info.className = "note";
  info.textContent = placementText(s);
  box.appendChild(info);
  const drop = document.createElement("div");
  drop.id = "dropzone";
  drop.innerHTML = `<img alt=""><span></span><br><small>drop an image here to replace the reference</small>`;
  drop.querySelector("img").src = `/api/files/${s.ref.split("/").map(enc).join("/")}?t=${st.revision}`;
  drop.querySelector("span").textContent = s.ref;
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const file = e.dataTransfer.files[0];
    if (file) await dropReference(s.name, file);
  });
  box.appendChild(drop);
}

export async function dropReference(name, file) {
  try {
    const r = await upload(file, `refs/${file.name}`);
    await patch(name, { ref: r.path });
    status(`copied ${file.name} to ${r.path}`);
  } catch (err) { status(err.message, true); }
}

function placementText(s) {
  const p = s.placement, f = (v) => (Math.round(v * 1000) / 1000).toString();
  if (p.kind === "box2d") return `box2d (${[p.x0, p.y0, p.x1, p.y1].map(f).join(", ")})`;
  if (p.kind === "box3d") return `center (${p.center.map(f)}) m, size (${p.size.map(f)}) m, yaw ${f(p.yaw)}°`;
  if (p.kind === "mesh") return `${p.path}: position (${p.position.map(f)}) m, scale ${f(p.scale)}, yaw ${f(p.yaw)}°`;
  if (p.kind === "polygon") return `polygon, ${p.points.length} points`;
  return `mask ${p.path}`;
}

// -- scene panel ----------------------------------------------------------------------------------------------
let paramKey = null;
const sendScene = debounce((body) => call("PATCH", "/api/scene", body).catch(() => {}), 120);

export function renderScenePanel() {
  const box = $("scenepanel");
  if (document.activeElement && box.contains(document.activeElement)) return;
  const sc = store.state.scene;
  box.innerHTML = "";
  for (const key of ["width", "height"]) {
    const c = field(box, `canvas ${key}`, input(sc.canvas[key], "number"));
    c.id = `canvas-${key}`;
    c.step = 16; c.min = 16; c.max = 4096;
    c.onchange = () => call("PATCH", "/api/scene", { canvas: { [key]: +c.value } }).catch(() => {});
  }
  const prompt = field(box, "prompt", input(sc.prompt));
  prompt.onchange = () => call("PATCH", "/api/scene", { prompt: prompt.value }).catch(() => {});
  const compose = field(box, "compose", input(sc.compose));
  compose.id = "compose";
  compose.onchange = () => call("PATCH", "/api/scene", { compose: compose.value }).catch(() => {});
  const names = document.createElement("div");
  names.className = "mentions";
  for (const s of sc.subjects) {
    const b = document.createElement("button");
    b.textContent = "@" + s.name;
    b.title = "insert at the cursor";
    b.onmousedown = (e) => e.preventDefault();
    b.onclick = () => {
      const at = compose.selectionStart ?? compose.value.length;
      const before = compose.value.slice(0, at).replace(/@\w*$/, "");
      compose.value = before + "@" + s.name + compose.value.slice(at);
      compose.dispatchEvent(new Event("change"));
    };
    names.appendChild(b);
  }
  box.appendChild(names);
  // completion: while a mention is being typed, only the names that fit it are offered
  compose.addEventListener("input", () => {
    const m = compose.value.slice(0, compose.selectionStart ?? compose.value.length).match(/@(\w*)$/);
    for (const b of names.children) b.hidden = !!m && !b.textContent.slice(1).startsWith(m[1]);
  });
  const cam = sc.camera;
  const fov = field(box, `fov ${cam.fov.toFixed(1)}°`, input(cam.fov, "range"));
  fov.min = 10; fov.max = 120; fov.step = 0.5;
  fov.oninput = () => sendScene({ camera: { fov: +fov.value }, coalesce: paramKey = paramKey || `fov-${Date.now()}` });
  fov.onchange = () => { paramKey = null; };
  const orbit = document.createElement("div");
  orbit.className = "orbit";
  orbit.append("orbit ");
  for (const [lbl, yaw, pitch] of [["←", -10, 0], ["→", 10, 0], ["↑", 0, 5], ["↓", 0, -5]]) {
    const b = document.createElement("button"); b.textContent = lbl;
    b.onclick = () => moveCamera(yaw, pitch, 0, 0); orbit.appendChild(b);
  }
  orbit.append(" pan ");
  for (const [lbl, dx, dy] of [["◀", -0.25, 0], ["▶", 0.25, 0], ["▲", 0, 0.25], ["▼", 0, -0.25]]) {
    const b = document.createElement("button"); b.textContent = lbl;
    b.onclick = () => moveCamera(0, 0, dx, dy); orbit.appendChild(b);
  }
  box.appendChild(orbit);
  for (const p of sc.params) {
    if (typeof p.value !== "number" || !p.editable) continue;
    const span = Math.max(1, Math.abs(p.value) * 2);
    const r = field(box, `$${p.name} = ${p.value}${p.unit ? " " + p.unit : ""}`, input(p.value, "range"));
    r.dataset.param = p.name;
    r.min = p.value - span; r.max = p.value + span; r.step = span / 200;
    r.oninput = () => sendScene({ params: { [p.name]: +r.value }, coalesce: paramKey = paramKey || `param-${Date.now()}` });
    r.onchange = () => { paramKey = null; };
  }
}

function moveCamera(dyaw, dpitch, dx, dy) {
  // Orbit turns `position` about `look_at`; pan moves both along the camera's right and up axes.
  const cam = store.state.scene.camera;
  const look = cam.look_at || [cam.position[0], cam.position[1], cam.position[2] - 1];
  let off = cam.position.map((v, i) => v - look[i]);
  const r = Math.hypot(...off);
  let az = Math.atan2(off[0], off[2]), el = Math.asin(off[1] / r);
  az += dyaw * Math.PI / 180;
  el = Math.max(-1.45, Math.min(1.45, el + dpitch * Math.PI / 180));
  off = [r * Math.cos(el) * Math.sin(az), r * Math.sin(el), r * Math.cos(el) * Math.cos(az)];
  const m = cam.c2w, right = [m[0][0], m[1][0], m[2][0]], up = [m[0][1], m[1][1], m[2][1]];
  const shift = [0, 1, 2].map((i) => right[i] * dx + up[i] * dy);
  const position = look.map((v, i) => v + off[i] + shift[i]);
  const body = { camera: { position } };
  if (cam.look_at) body.camera.look_at = look.map((v, i) => v + shift[i]);
  call("PATCH", "/api/scene", body).catch(() => {});
}

// The camera view: the server's layout picture (as `preview` draws it) under an SVG of editable shapes.
// A drag changes the local copy of the placement at once (the overlay follows the mouse) and streams PATCHes
// carrying one coalesce key, so the whole drag is one undo step: one PATCH in flight at a time, the newest
// position sent as soon as the previous answer is in, so the maps follow the mouse as fast as the server compiles.
import { call, palette, store } from "./api.js";
import { EDGES, apply3, heightOnVertical, hitPlaneY, project, proxy, sub, transpose } from "./geom.js";

const svg = document.getElementById("overlay");
const NS = "http://www.w3.org/2000/svg";
export const view = { selected: null, onSelect: () => {} };

function el(tag, attrs, parent) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function toCanvas(evt) {  // mouse -> canvas pixels
  const pt = svg.createSVGPoint();
  pt.x = evt.clientX; pt.y = evt.clientY;
  return pt.matrixTransform(svg.getScreenCTM().inverse());
}

const snapTo = (v, step, on) => (on ? Math.round(v / step) * step : v);
const clamp01 = (v) => Math.min(1, Math.max(0, v));

// Each subject's colour follows its place in the file, never its depth: moving the corgi nearer keeps the corgi's
// colour (views.subject_colours draws the layout picture with the same palette). The routing maps keep their
// own colours, one per intensity, because intensity is order by definition.
export function colours() {
  const subjects = store.state && store.state.scene ? store.state.scene.subjects : [];
  const cols = palette(subjects.length);
  return Object.fromEntries(subjects.map((s, k) => [s.name, cols[k]]));
}

export function draw() {
  const st = store.state;
  svg.innerHTML = "";
  if (!st || !st.scene) return;
  const { width: W, height: H } = st.scene.canvas;
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  document.getElementById("view").style.setProperty("--aspect", W / H);
  const cols = colours();
  const cam = st.scene.camera;
  const hs = Math.max(W, H) / 80;  // handle radius in canvas pixels
  const fs = Math.max(W, H) / 46;  // label size: the same on screen for a 64 px or a 4096 px canvas
  for (const s of st.scene.subjects) {
    const g = el("g", { "data-subject": s.name, class: view.selected === s.name ? "sel" : "" }, svg);
    const c = cols[s.name] || "#fff";
    const p = s.placement;
    const lock = s.editable ? "" : " locked";
    let labelAt = null;
    if (p.kind === "box2d") {
      const [x, y, w, h] = [p.x0 * W, p.y0 * H, (p.x1 - p.x0) * W, (p.y1 - p.y0) * H];
      const r = el("rect", { x, y, width: w, height: h, class: "body" + lock, stroke: c }, g);
      grab(r, s, "move2d");
      if (s.editable && view.selected === s.name) {
        for (const [cx, cy, k] of [[p.x0, p.y0, "x0y0"], [p.x1, p.y0, "x1y0"], [p.x0, p.y1, "x0y1"], [p.x1, p.y1, "x1y1"]]) {
          grab(el("rect", { x: cx * W - hs, y: cy * H - hs, width: 2 * hs, height: 2 * hs, class: "h", "data-handle": k }, g), s, "corner:" + k);
        }
      }
      labelAt = [x + 6, y + 24];
    } else if (p.kind === "polygon") {
      const pts = p.points.map(([x, y]) => `${x * W},${y * H}`).join(" ");
      const poly = el("polygon", { points: pts, class: "body" + lock, stroke: c }, g);
      grab(poly, s, "movepoly");
      if (s.editable && view.selected === s.name) {
        p.points.forEach(([x, y], i) => grab(el("circle", { cx: x * W, cy: y * H, r: hs, class: "h", "data-handle": "p" + i }, g), s, "point:" + i));
      }
      labelAt = [Math.min(...p.points.map((q) => q[0])) * W + 6, Math.min(...p.points.map((q) => q[1])) * H + 24];
    } else if (p.kind === "mask") {
      const e = (store.maps && store.maps.subjects || []).find((q) => q.name === s.name);
      if (e && e.bbox_px) {
        let [x0, y0, x1, y1] = e.bbox_px;
        const mt = drag && drag.name === s.name && drag.body && drag.body.mask_transform;
        if (mt) {
          const [ox, oy] = mt.origin ? [mt.origin[0] * W, mt.origin[1] * H] : [x0, y0];
          [x0, y0, x1, y1] = [ox + (x0 - ox) * mt.scale + mt.dx * W, oy + (y0 - oy) * mt.scale + mt.dy * H,
            ox + (x1 - ox) * mt.scale + mt.dx * W, oy + (y1 - oy) * mt.scale + mt.dy * H];
        }
        const sx = 1;
        const r = el("rect", { x: x0 * sx, y: y0 * sx, width: (x1 - x0) * sx, height: (y1 - y0) * sx, class: "body" + lock, stroke: c, "stroke-dasharray": "10 5" }, g);
        grab(r, s, "movemask");
        if (s.editable && view.selected === s.name) grab(el("rect", { x: x1 * sx - hs, y: y1 * sx - hs, width: 2 * hs, height: 2 * hs, class: "h", "data-handle": "scale" }, g), s, "scalemask");
        labelAt = [x0 * sx + 6, y0 * sx + 24];
      }
    } else {
      const px = proxy(s);
      const uv = px.corners.map((q) => project(cam, q));
      if (uv.every((q) => q[2] > 0)) {
        const d = EDGES.map(([a, b]) => `M${uv[a][0]},${uv[a][1]}L${uv[b][0]},${uv[b][1]}`).join("");
        el("path", { d, class: "wire", stroke: c }, g);
        const hull = hullOf(uv.map((q) => [q[0], q[1]]));
        const body = el("polygon", { points: hull.map((q) => q.join(",")).join(" "), class: "body" + lock, stroke: "none" }, g);
        grab(body, s, "move3d");
        if (s.editable && view.selected === s.name) {
          const at = (w) => project(cam, w);
          const hh = [["move3d", px.bottom, "circle"], ["raise3d", px.centre, "diamond"], ["size3d", px.corner, "rect"],
            ["yaw3d", px.front, "ring"]];
          if (p.kind === "box3d") hh.push(["height3d", px.top, "tri"]);
          for (const [mode, w, shape] of hh) {
            const [u, v] = at(w);
            let h;
            if (shape === "rect") h = el("rect", { x: u - hs, y: v - hs, width: 2 * hs, height: 2 * hs }, g);
            else if (shape === "diamond") h = el("path", { d: `M${u},${v - hs * 1.3}L${u + hs * 1.3},${v}L${u},${v + hs * 1.3}L${u - hs * 1.3},${v}Z` }, g);
            else if (shape === "tri") h = el("path", { d: `M${u},${v - hs * 1.3}L${u + hs * 1.2},${v + hs}L${u - hs * 1.2},${v + hs}Z` }, g);
            else h = el("circle", { cx: u, cy: v, r: shape === "ring" ? hs * 1.2 : hs }, g);
            h.setAttribute("class", "h");
            h.setAttribute("data-handle", mode);
            if (shape === "ring") h.setAttribute("fill", "none");
            grab(h, s, mode);
          }
        }
        labelAt = [Math.min(...uv.map((q) => q[0])) + 6, Math.min(...uv.map((q) => q[1])) + 24];
      }
    }
    if (labelAt) {
      const t = el("text", { x: labelAt[0], y: labelAt[1] - 22 + fs, class: "label", fill: c }, g);
      t.style.fontSize = `${fs}px`;
      t.style.strokeWidth = `${fs / 5}px`;
      t.textContent = s.name;
    }
  }
  const sel = svg.querySelector("g.sel");
  if (sel) svg.appendChild(sel);  // the selected subject and its handles on top of every other shape
}

function hullOf(pts) {  // convex hull (monotone chain) of the projected corners: the box's clickable area
  pts = pts.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lo = [], hi = [];
  for (const p of pts) { while (lo.length >= 2 && cross(lo[lo.length - 2], lo[lo.length - 1], p) <= 0) lo.pop(); lo.push(p); }
  for (const p of pts.slice().reverse()) { while (hi.length >= 2 && cross(hi[hi.length - 2], hi[hi.length - 1], p) <= 0) hi.pop(); hi.push(p); }
  return lo.slice(0, -1).concat(hi.slice(0, -1));
}

// -- dragging ---------------------------------------------------------------------------------------------------
let drag = null;
let dragCount = 0;
let lastDown = null;
let inFlight = null;  // the PATCH being answered
let queued = false;  // a newer position waits for it
function send() {
  // one PATCH at a time, and none while the server holds a text whose maps wait for the frame on its way
  // (main.js): a fast mouse then costs the server one parse per frame, not one per mouse event
  if (inFlight || store.frameQueued) { queued = true; return; }
  inFlight = flushDrag(false).finally(() => {
    inFlight = null;
    if (queued) { queued = false; send(); }
  });
}
window.addEventListener("sigmascene:frame", () => { if (queued && drag) { queued = false; send(); } });

function grab(shape, subject, mode) {
  shape.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.stopPropagation();
    if (view.selected !== subject.name) { view.selected = subject.name; view.onSelect(subject.name); }
    if (!subject.editable) { draw(); return; }
    if (mode.startsWith("point:") && e.altKey) { deletePoint(subject, +mode.slice(6)); return; }
    // A double click is told apart here: the first click redraws the shapes, so `dblclick` never reaches one.
    const now = performance.now();
    if (mode === "movepoly" && lastDown && now - lastDown.t < 450 && Math.hypot(e.clientX - lastDown.x, e.clientY - lastDown.y) < 6) {
      lastDown = null;
      addPoint(subject, e);
      return;
    }
    lastDown = { t: now, x: e.clientX, y: e.clientY };
    const start = toCanvas(e);
    drag = { name: subject.name, mode, start, p0: JSON.parse(JSON.stringify(subject.placement)), key: `drag-${Date.now()}-${++dragCount}`, moved: false, body: null };
    store.dragging = subject.name;
    svg.setPointerCapture(e.pointerId);
    draw();
  });
}

svg.addEventListener("pointermove", (e) => {
  if (!drag) return;
  const s = store.state.scene.subjects.find((q) => q.name === drag.name);
  if (!s) return;
  const body = dragTo(s, drag, toCanvas(e), e.shiftKey);
  if (!body) return;
  drag.moved = true;
  drag.body = body;
  Object.assign(s.placement, body.placement || {});
  draw();
  if (!drag.mode.endsWith("mask")) send();  // a mask edit writes a new mask file: once, on release
});

svg.addEventListener("pointerup", async () => {
  if (!drag) return;
  const d = drag;
  queued = false;
  if (inFlight) await inFlight;  // the release's PATCH goes last: the full-resolution maps land on it
  if (drag === d) flushDrag(true);
});

svg.addEventListener("pointerdown", () => { if (view.selected) { view.selected = null; view.onSelect(null); draw(); } });

async function flushDrag(final) {
  const d = drag;
  if (!d) return;
  if (final) { drag = null; store.dragging = null; }
  if (!d.moved || !d.body) { if (final) draw(); return; }
  if (!final && d.sent === d.body) return;  // nothing new since the last PATCH
  d.sent = d.body;
  const body = { ...d.body, coalesce: d.key };
  try { await call("PATCH", `/api/subjects/${encodeURIComponent(d.name)}`, body); } catch (err) {
    // the status line shows why; after the release, the panels skipped mid-drag are drawn from the server's state
    if (final) await call("GET", "/api/scene").catch(() => {});
  }
}

function dragTo(s, d, pt, snap) {
  const st = store.state.scene;
  const { width: W, height: H } = st.canvas;
  const cam = st.camera;
  const p0 = d.p0;
  const dx = (pt.x - d.start.x) / W, dy = (pt.y - d.start.y) / H;
  const g = 1 / 64;
  if (d.mode === "move2d") {
    let mx = snapTo(p0.x0 + dx, g, snap) - p0.x0, my = snapTo(p0.y0 + dy, g, snap) - p0.y0;
    mx = Math.min(1 - p0.x1, Math.max(-p0.x0, mx)); my = Math.min(1 - p0.y1, Math.max(-p0.y0, my));
    return { placement: { x0: p0.x0 + mx, y0: p0.y0 + my, x1: p0.x1 + mx, y1: p0.y1 + my } };
  }
  if (d.mode.startsWith("corner:")) {
    const k = d.mode.slice(7), out = { x0: p0.x0, y0: p0.y0, x1: p0.x1, y1: p0.y1 };
    const xk = k.slice(0, 2), yk = k.slice(2);
    out[xk] = clamp01(snapTo(p0[xk] + dx, g, snap)); out[yk] = clamp01(snapTo(p0[yk] + dy, g, snap));
    if (out.x1 - out.x0 < 0.01 || out.y1 - out.y0 < 0.01) return null;
    return { placement: out };
  }
  if (d.mode === "movepoly") {
    const xs = p0.points.map((q) => q[0]), ys = p0.points.map((q) => q[1]);
    const mx = Math.min(1 - Math.max(...xs), Math.max(-Math.min(...xs), snapTo(dx, g, snap)));
    const my = Math.min(1 - Math.max(...ys), Math.max(-Math.min(...ys), snapTo(dy, g, snap)));
    return { placement: { points: p0.points.map(([x, y]) => [x + mx, y + my]) } };
  }
  if (d.mode.startsWith("point:")) {
    const i = +d.mode.slice(6), pts = p0.points.map((q) => q.slice());
    pts[i] = [clamp01(snapTo(p0.points[i][0] + dx, g, snap)), clamp01(snapTo(p0.points[i][1] + dy, g, snap))];
    return { placement: { points: pts } };
  }
  if (d.mode === "movemask" || d.mode === "scalemask") {
    const e = store.maps.subjects.find((q) => q.name === s.name);
    if (!e || !e.bbox_px) return null;
    const [x0, y0, x1, y1] = e.bbox_px;
    if (d.mode === "movemask") return { mask_transform: { dx: snapTo(dx, g, snap), dy: snapTo(dy, g, snap), scale: 1 } };
    const f = Math.max(0.1, ((x1 - x0) + (pt.x - d.start.x)) / (x1 - x0));
    return { mask_transform: { dx: 0, dy: 0, scale: snap ? Math.round(f * 10) / 10 : f, origin: [x0 / W, y0 / H] } };
  }
  // 3D: the same camera as the compiler; positions in metres, angles in degrees.
  const s0 = { ...s, placement: p0 };
  const px = proxy(s0);
  const key = p0.kind === "box3d" ? "center" : "position";
  const t0 = p0[key];
  const m = snap ? 0.05 : 0;
  const sn = (v) => (m ? Math.round(v / m) * m : v);
  if (d.mode === "move3d") {
    const a = hitPlaneY(cam, d.start.x, d.start.y, px.bottom[1]), b = hitPlaneY(cam, pt.x, pt.y, px.bottom[1]);
    if (!a || !b) return null;
    return { placement: { [key]: [sn(t0[0] + b[0] - a[0]), t0[1], sn(t0[2] + b[2] - a[2])] } };
  }
  if (d.mode === "raise3d") {
    const y0 = heightOnVertical(cam, d.start.x, d.start.y, px.centre), y1 = heightOnVertical(cam, pt.x, pt.y, px.centre);
    if (y0 === null || y1 === null) return null;
    return { placement: { [key]: [t0[0], sn(t0[1] + y1 - y0), t0[2]] } };
  }
  if (d.mode === "height3d") {
    const y1 = heightOnVertical(cam, pt.x, pt.y, px.bottom);
    if (y1 === null) return null;
    const h = Math.max(0.05, sn(y1 - px.bottom[1]));
    return { placement: { size: [p0.size[0], h, p0.size[2]], center: [t0[0], px.bottom[1] + h / 2, t0[2]] } };
  }
  if (d.mode === "size3d") {
    const b = hitPlaneY(cam, pt.x, pt.y, px.bottom[1]);
    if (!b) return null;
    const local = apply3(transpose(px.R), sub(b, px.bottom));
    if (p0.kind === "box3d") {
      return { placement: { size: [Math.max(0.05, sn(2 * Math.abs(local[0]))), p0.size[1], Math.max(0.05, sn(2 * Math.abs(local[2])))] } };
    }
    const l0 = apply3(transpose(px.R), sub(px.corner, px.bottom));
    const f = Math.hypot(local[0], local[2]) / Math.max(1e-6, Math.hypot(l0[0], l0[2]));
    return { placement: { scale: Math.max(0.01, snap ? Math.round(p0.scale * f * 20) / 20 : p0.scale * f) } };
  }
  if (d.mode === "yaw3d") {
    const b = hitPlaneY(cam, pt.x, pt.y, px.bottom[1]);
    if (!b) return null;
    let yaw = Math.atan2(b[0] - px.bottom[0], b[2] - px.bottom[2]) * 180 / Math.PI;
    if (snap) yaw = Math.round(yaw / 15) * 15;
    return { placement: { yaw } };
  }
  return null;
}

async function addPoint(s, e) {
  if (!s.editable) return;
  const { width: W, height: H } = store.state.scene.canvas;
  const pt = toCanvas(e), q = [pt.x / W, pt.y / H];
  const pts = s.placement.points;
  let best = 0, bestD = Infinity;
  pts.forEach((a, i) => {
    const b = pts[(i + 1) % pts.length];
    const ab = [b[0] - a[0], b[1] - a[1]], t = Math.max(0, Math.min(1, ((q[0] - a[0]) * ab[0] + (q[1] - a[1]) * ab[1]) / (ab[0] ** 2 + ab[1] ** 2 || 1)));
    const dd = Math.hypot(a[0] + t * ab[0] - q[0], a[1] + t * ab[1] - q[1]);
    if (dd < bestD) { bestD = dd; best = i; }
  });
  const out = pts.slice();
  out.splice(best + 1, 0, q);
  await call("PATCH", `/api/subjects/${encodeURIComponent(s.name)}`, { placement: { points: out } });
}

async function deletePoint(s, i) {
  if (s.placement.points.length <= 3) return;
  const out = s.placement.points.filter((_, k) => k !== i);
  await call("PATCH", `/api/subjects/${encodeURIComponent(s.name)}`, { placement: { points: out } });
}

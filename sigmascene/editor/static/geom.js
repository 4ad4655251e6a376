// The compiler's camera in the browser (renderers/geometry.py): the server sends the same world->camera matrix
// and intrinsics it renders with, so wireframes drawn here lie on the boxes in the maps.

export function rotation(yaw, pitch, roll) {  // R = Ry(yaw) Rx(pitch) Rz(roll), degrees
  const r = Math.PI / 180, [cy, sy] = [Math.cos(yaw * r), Math.sin(yaw * r)];
  const [cp, sp] = [Math.cos(pitch * r), Math.sin(pitch * r)], [cr, sr] = [Math.cos(roll * r), Math.sin(roll * r)];
  const ry = [[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], rx = [[1, 0, 0], [0, cp, -sp], [0, sp, cp]];
  const rz = [[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]];
  return mul(mul(ry, rx), rz);
}

export function mul(a, b) {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}

export function apply3(m, v) { return [0, 1, 2].map((i) => m[i][0] * v[0] + m[i][1] * v[1] + m[i][2] * v[2]); }
export function transpose(m) { return m[0].map((_, j) => m.map((row) => row[j])); }
export const add = (a, b) => a.map((v, i) => v + b[i]);
export const sub = (a, b) => a.map((v, i) => v - b[i]);
export const scale = (a, s) => a.map((v) => v * s);
export const dot = (a, b) => a.reduce((s, v, i) => s + v * b[i], 0);

export function project(cam, p) {  // -> [u, v, depth]
  const m = cam.w2c;
  const pc = [0, 1, 2].map((i) => m[i][0] * p[0] + m[i][1] * p[1] + m[i][2] * p[2] + m[i][3]);
  const depth = -pc[2];
  return [cam.cx + cam.fx * pc[0] / depth, cam.cy - cam.fy * pc[1] / depth, depth];
}

export function ray(cam, u, v) {  // world origin and unit direction through pixel (u, v)
  const d = [(u - cam.cx) / cam.fx, -(v - cam.cy) / cam.fy, -1];
  const m = cam.c2w;
  const w = [0, 1, 2].map((i) => m[i][0] * d[0] + m[i][1] * d[1] + m[i][2] * d[2]);
  const n = Math.hypot(...w);
  return [[m[0][3], m[1][3], m[2][3]], w.map((x) => x / n)];
}

export function hitPlaneY(cam, u, v, y) {  // where the pixel's ray meets the horizontal plane at height y
  const [o, d] = ray(cam, u, v);
  if (Math.abs(d[1]) < 1e-9) return null;
  const t = (y - o[1]) / d[1];
  return t > 0 ? add(o, scale(d, t)) : null;
}

export function heightOnVertical(cam, u, v, base) {  // y of the point on the vertical line through `base` nearest the ray
  const [o, d] = ray(cam, u, v);
  const up = [0, 1, 0], w0 = sub(base, o);
  const a = 1, b = dot(up, d), c = 1, dd = dot(up, w0), e = dot(d, w0);
  const den = a * c - b * b;
  if (Math.abs(den) < 1e-9) return null;
  const s = (b * e - c * dd) / den;
  return base[1] + s;
}

// The 3D proxy of a box3d or mesh: world corners of its (local) bounds and its frame.
export function proxy(subject) {
  const p = subject.placement;
  const b = subject.mesh_bounds || [[-0.5, -0.5, -0.5], [0.5, 0.5, 0.5]];
  const s = p.kind === "box3d" ? p.size : [p.scale, p.scale, p.scale];
  const t = p.kind === "box3d" ? p.center : p.position;
  const R = rotation(p.yaw || 0, p.pitch || 0, p.roll || 0);
  const world = (l) => add(apply3(R, [l[0] * s[0], l[1] * s[1], l[2] * s[2]]), t);
  const corners = [];
  for (const x of [b[0][0], b[1][0]]) for (const y of [b[0][1], b[1][1]]) for (const z of [b[0][2], b[1][2]]) corners.push(world([x, y, z]));
  const mid = [(b[0][0] + b[1][0]) / 2, (b[0][1] + b[1][1]) / 2, (b[0][2] + b[1][2]) / 2];
  return { corners, R, s, t, b, world,
    bottom: world([mid[0], b[0][1], mid[2]]), top: world([mid[0], b[1][1], mid[2]]), centre: world(mid),
    corner: world([b[1][0], b[0][1], b[1][2]]),
    front: world([mid[0], b[0][1], b[1][2] + 0.35 / Math.max(1e-6, s[2])]) };
}

export const EDGES = [[0, 1], [2, 3], [4, 5], [6, 7], [0, 2], [1, 3], [4, 6], [5, 7], [0, 4], [1, 5], [2, 6], [3, 7]];

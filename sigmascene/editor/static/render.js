// The Render button: POST /api/render answers a stream of JSON lines (progress, notes, the result).
import { status } from "./api.js";

const $ = (id) => document.getElementById(id);
let job = null;

export async function startRender() {
  const out = $("renderout"), bar = $("progress");
  $("render").disabled = true;
  $("cancel").hidden = false;
  bar.hidden = false; bar.value = 0;
  out.innerHTML = "";
  const log = document.createElement("pre");
  log.id = "render-log";
  out.appendChild(log);
  status("rendering...");
  try {
    const resp = await fetch("/api/render", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify({ method: $("method").value }) });
    if (!resp.ok) { const d = await resp.json(); throw new Error(d.error || resp.statusText); }
    const reader = resp.body.getReader();
    const dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        if (line.trim()) handle(JSON.parse(line), out, log, bar);
      }
    }
  } catch (err) {
    status(`render failed: ${err.message}`, true);
  } finally {
    $("render").disabled = false;
    $("cancel").hidden = true;
    bar.hidden = true;
    job = null;
  }
}

function handle(ev, out, log, bar) {
  if (ev.event === "started") job = ev.job;
  else if (ev.event === "progress") { bar.max = ev.total; bar.value = ev.step; status(`rendering: step ${ev.step}/${ev.total}`); }
  else if (ev.event === "note") log.textContent += ev.message + "\n";
  else if (ev.event === "log") {  // the libraries' own output (progress bars, warnings), kept off the terminal
    if (ev.redraw && log.dataset.redraw === "1") log.textContent = log.textContent.replace(/[^\n]*\n$/, "");
    log.textContent += ev.message + "\n";
    log.dataset.redraw = ev.redraw ? "1" : "0";
  }
  else if (ev.event === "cancelled") status("render cancelled");
  else if (ev.event === "error") { status("render failed", true); log.textContent += ev.message + "\n"; }
  else if (ev.event === "done") {
    const img = document.createElement("img");
    img.id = "render-image";
    img.src = `${ev.image}?t=${Date.now()}`;
    out.prepend(img);
    const side = document.createElement("pre");
    side.id = "render-sidecar";
    side.textContent = `${ev.file}\n` + JSON.stringify(ev.sidecar, null, 2);
    out.appendChild(side);
    status(`rendered ${ev.file}`);
  }
}

$("cancel").onclick = async () => {
  if (job) await fetch(`/api/render/${job}/cancel`, { method: "POST", credentials: "same-origin" });
};

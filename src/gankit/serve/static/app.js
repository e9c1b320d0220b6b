// gankit's page: plain JavaScript, no libraries, every request to this server only.
"use strict";
const $ = (id) => document.getElementById(id);
let runs = [], current = null;

async function call(url, body, isForm) {
  const opts = { method: "POST", body: isForm ? body : JSON.stringify(body) };
  if (!isForm) opts.headers = { "Content-Type": "application/json" };
  const res = await fetch(url, opts);
  if (!res.ok) {
    let msg = res.status + " " + res.statusText;
    try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
    throw new Error(msg);
  }
  const disp = res.headers.get("Content-Disposition") || "";
  const name = (disp.match(/filename="([^"]+)"/) || [])[1] || "result.png";
  return { blob: await res.blob(), name, size: res.headers.get("X-Image-Size") || "" };
}

// Run `work` for a panel: busy button (if any), error line, result image and download link.
async function run(prefix, button, work) {
  const err = $(prefix + "-err");
  err.textContent = "";
  if (button) button.disabled = true;
  try {
    const r = await work();
    const img = $(prefix + "-out"), dl = $(prefix + "-dl");
    if (img.dataset.url) URL.revokeObjectURL(img.dataset.url);
    const url = URL.createObjectURL(r.blob);
    img.dataset.url = url;
    img.dataset.size = r.size;
    await new Promise((ok) => { img.onload = ok; img.onerror = ok; img.src = url; });
    img.hidden = false;
    dl.href = url; dl.download = r.name; dl.textContent = "Download " + r.name;
    dl.hidden = false;
    return r;
  } catch (e) {
    err.textContent = e.message;
    $(prefix + "-out").hidden = true;  // no older result beside the message, to mistake for
    $(prefix + "-dl").hidden = true;   // this request's
  } finally {
    if (button) button.disabled = false;
  }
}

function showPanels() {
  for (const sec of document.querySelectorAll("section[data-kinds]")) {
    sec.hidden = !current || !sec.dataset.kinds.split(" ").includes(current.kind);
  }
  if (!current) return;
  $("run-info").textContent = current.family + " · " + current.kind + " · step " + current.step;
  const cls = $("gen-class");
  cls.innerHTML = "";
  if (current.classes) {
    cls.add(new Option("every class (a row each)", ""));
    for (let k = 0; k < current.classes; k++) cls.add(new Option(String(k), String(k)));
  }
  $("gen-class-box").hidden = !current.classes;
  const codes = $("gen-codes");
  codes.innerHTML = "";
  for (const c of current.codes || []) {
    const box = document.createElement("label");
    box.className = "code";
    box.textContent = c.name + " ";
    let input;
    if (c.size) {
      input = document.createElement("select");
      input.add(new Option("random", ""));
      for (let k = 0; k < c.size; k++) input.add(new Option(String(k), String(k)));
    } else {
      input = document.createElement("input");
      Object.assign(input, { type: "number", step: "0.25", min: "-2", max: "2",
                             placeholder: "random" });
      input.style.width = "6em";
    }
    input.dataset.code = c.name;
    box.appendChild(input);
    codes.appendChild(box);
  }
  $("gen-trunc-box").hidden = !current.truncation;
  $("gen-frames-box").hidden = current.kind !== "sequence";
  if (current.kind === "sequence") $("gen-frames").value = current.frames;
  $("gen-n").value = current.kind === "sequence" ? 4 : 16;
  const dir = $("tr-dir");
  dir.innerHTML = "";
  for (const d of current.directions || []) dir.add(new Option(d, d));
}

async function loadRuns() {
  const res = await fetch("/api/runs");
  const data = await res.json();
  runs = data.runs;
  const sel = $("run");
  sel.innerHTML = "";
  for (const r of runs) sel.add(new Option(r.id + " (" + r.family + ", step " + r.step + ")", r.id));
  $("problems").hidden = !data.problems.length;
  $("problems").textContent = data.problems.join("\n");
  $("no-runs").hidden = runs.length > 0;
  current = runs[0] || null;
  showPanels();
}

function num(id) { return Number($(id).value); }

// Generate
$("gen-trunc").addEventListener("input", () => {
  const v = num("gen-trunc");
  $("gen-trunc-val").textContent = v.toFixed(2) + (v >= 1 ? " (off)" : "");
});
$("gen-go").addEventListener("click", () => run("gen", $("gen-go"), () => {
  const codes = {};
  for (const el of document.querySelectorAll("#gen-codes [data-code]")) {
    if (el.value !== "") codes[el.dataset.code] = Number(el.value);
  }
  const body = { run: current.id, seed: num("gen-seed"), n: num("gen-n"), codes,
                 truncation: current.truncation ? num("gen-trunc") : null };
  if (current.classes && $("gen-class").value !== "") body.class = Number($("gen-class").value);
  if (current.kind === "sequence") {
    return call("/api/clip", { run: current.id, seed: body.seed, n: body.n,
                               frames: num("gen-frames"), truncation: body.truncation });
  }
  return call("/api/generate", body);
}));

// Interpolate: one request in flight; the latest slider position wins
let interpBusy = false, interpAgain = false;
async function interp() {
  if (interpBusy) { interpAgain = true; return; }
  interpBusy = true;
  const t = num("int-t");
  $("int-t-val").textContent = "t = " + t.toFixed(2);
  await run("int", null, () => call("/api/interpolate",  // the slider stays live
    { run: current.id, seed_a: num("int-a"), seed_b: num("int-b"), t }));
  $("int-out").dataset.t = t.toFixed(2);
  interpBusy = false;
  if (interpAgain) { interpAgain = false; interp(); }
}
for (const id of ["int-t", "int-a", "int-b"]) $(id).addEventListener("input", interp);

// Inpaint: the photo on a canvas, strokes drawn in red on it and in white on a hidden mask
let photo = null, painting = false, last = null;
const canvas = $("inp-canvas"), maskCanvas = $("inp-mask");

function redraw() {
  const ctx = canvas.getContext("2d");
  ctx.drawImage(photo, 0, 0);
  ctx.globalAlpha = 0.55;
  const tint = document.createElement("canvas");
  tint.width = canvas.width; tint.height = canvas.height;
  const t = tint.getContext("2d");
  t.drawImage(maskCanvas, 0, 0);
  t.globalCompositeOperation = "source-in";
  t.fillStyle = "#ff2050";
  t.fillRect(0, 0, tint.width, tint.height);
  ctx.drawImage(tint, 0, 0);
  ctx.globalAlpha = 1;
}

function clearMask() {
  const m = maskCanvas.getContext("2d");
  m.globalCompositeOperation = "source-over";
  m.clearRect(0, 0, maskCanvas.width, maskCanvas.height);
  if (photo) redraw();
}

function where(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * canvas.width / r.width,
          (e.clientY - r.top) * canvas.height / r.height];
}

function stroke(to) {
  const m = maskCanvas.getContext("2d");
  m.strokeStyle = m.fillStyle = "#fff";
  m.lineWidth = num("inp-brush");
  m.lineCap = m.lineJoin = "round";
  m.beginPath();
  m.moveTo(...(last || to));
  m.lineTo(...to);
  m.stroke();
  last = to;
  redraw();
}

canvas.addEventListener("pointerdown", (e) => {
  if (!photo) return;
  painting = true; last = null; stroke(where(e));
  canvas.setPointerCapture(e.pointerId);
});
canvas.addEventListener("pointermove", (e) => { if (painting) stroke(where(e)); });
canvas.addEventListener("pointerup", () => { painting = false; last = null; });

$("inp-file").addEventListener("change", async () => {
  const file = $("inp-file").files[0];
  $("inp-err").textContent = "";
  if (!file) return;
  const img = new Image();
  const url = URL.createObjectURL(file);
  try {
    await new Promise((ok, bad) => { img.onload = ok; img.onerror = bad; img.src = url; });
  } catch (e) {
    photo = null;  // nothing to paint on: the old photo and its mask must not go with this file
    canvas.width = maskCanvas.width = 0;
    $("inp-err").textContent = file.name + ": the browser cannot show this file as an image";
    return;
  }
  photo = img;
  canvas.width = maskCanvas.width = img.naturalWidth;
  canvas.height = maskCanvas.height = img.naturalHeight;
  $("inp-brush").value = Math.max(2, Math.round(Math.min(img.naturalWidth, img.naturalHeight) / 12));
  clearMask();
});
$("inp-clear").addEventListener("click", clearMask);
$("inp-go").addEventListener("click", () => run("inp", $("inp-go"), async () => {
  const file = $("inp-file").files[0];
  if (!file || !photo) throw new Error("choose a photo the browser can show, then paint on it");
  // the mask as an opaque black-and-white PNG: white = hole
  const flat = document.createElement("canvas");
  flat.width = maskCanvas.width; flat.height = maskCanvas.height;
  const f = flat.getContext("2d");
  f.fillStyle = "#000"; f.fillRect(0, 0, flat.width, flat.height);
  f.drawImage(maskCanvas, 0, 0);
  const mask = await new Promise((ok) => flat.toBlob(ok, "image/png"));
  const form = new FormData();
  form.append("run", current.id);
  form.append("image", file);
  form.append("mask", mask, "mask.png");
  return call("/api/inpaint", form, true);
}));

// Upscale and translate: a file and a button
function filePanel(prefix, url, extra) {
  $(prefix + "-go").addEventListener("click", () => run(prefix, $(prefix + "-go"), async () => {
    const file = $(prefix + "-file").files[0];
    if (!file) throw new Error("choose an image first");
    const form = new FormData();
    form.append("run", current.id);
    form.append("image", file);
    for (const [k, v] of Object.entries(extra())) form.append(k, v);
    const r = await call(url, form, true);
    if (prefix === "up") $("up-info").textContent = "result: " + r.size + " px";
    return r;
  }));
}
filePanel("up", "/api/upscale", () => ({}));
filePanel("tr", "/api/translate", () => ({ direction: $("tr-dir").value }));

$("run").addEventListener("change", () => {
  current = runs.find((r) => r.id === $("run").value) || null;
  showPanels();
});
loadRuns().catch((e) => { $("problems").hidden = false; $("problems").textContent = e.message; });

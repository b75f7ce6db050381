// Runs: every run's loss and val curves, redrawn while `tinylm train` appends to metrics.jsonl,
// and a table of each run's config and figures.
import { get } from "./api.js";
import { drawLines } from "./chart.js";
import { $, clearError, el, FAMILY_COLORS, formatCount, showError } from "./dom.js";

const PALETTE = ["#2563eb", "#ea580c", "#16a34a", "#9333ea", "#dc2626", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];
const POLL_MS = 2000;
let curves = [];
let etag = null;
let timer = null;

let colors = [];
let runsInfo = new Map(); // run name -> its family

// a run takes its family's color (as on the other tabs) unless an earlier run has it
function assignColors() {
  const used = new Set();
  colors = curves.map((run) => {
    const family = runsInfo.get(run.run);
    const choice = [FAMILY_COLORS[family], ...PALETTE].find((c) => c && !used.has(c)) || "#94a3b8";
    used.add(choice);
    return choice;
  });
}

const color = (i) => colors[i];

function draw() {
  const x = $("#runs-x").value;
  const logY = $("#runs-log").checked;
  const series = (key, value) => curves.map((run, i) => ({
    name: run.run, color: color(i), points: run[key].map((p) => [p[x], p[value]]),
  }));
  drawLines($("#chart-train"), series("train", "loss"), { logY, xName: x });
  drawLines($("#chart-val"), series("val", "val_loss"), { logY, xName: x });
  $("#legend").replaceChildren(...curves.map((run, i) => {
    const swatch = el("span", { class: "swatch" });
    swatch.style.background = color(i);
    return el("span", { class: "item" }, swatch, run.run);
  }));
}

function cell(v, digits = 3) {
  if (v === null || v === undefined) return "–";
  return typeof v === "number" ? (Number.isInteger(v) ? formatCount(v) : v.toFixed(digits)) : String(v);
}

function row(run) {
  const m = run.model || {};
  const t = run.train || {};
  const shape = m.n_layer ? `${m.n_layer}L ${m.n_head}H d${m.d_model} ctx${m.block_size}` : "–";
  const train = t.batch_size ? `${t.optimizer} lr ${t.lr} bs ${t.batch_size}` : "–";
  const cells = [run.run, run.objective, shape, train, cell(run.step), cell(run.tokens),
    run.seconds == null ? "–" : `${run.seconds.toFixed(1)} s`, cell(run.final_val?.val_loss),
    cell(run.best_val?.val_loss), (run.models || []).join(", ") || "–"];
  return el("tr", { title: run.error || "" }, ...cells.map((c) => el("td", { textContent: c })));
}

async function refresh() {
  const info = $("#runs-info");
  try {
    const res = await get("/api/curves", etag ? { "If-None-Match": etag } : {});
    if (res === null) return; // 304: nothing new
    etag = res.etag;
    curves = res.body.runs;
    const table = await get("/api/runs");
    runsInfo = new Map(table.body.runs.map((r) => [r.run, r.objective]));
    assignColors();
    draw();
    $("#runs-table tbody").replaceChildren(...table.body.runs.map(row));
    clearError(info);
    info.textContent = `${curves.length} run(s) · updated ${new Date().toLocaleTimeString()}`;
  } catch (err) {
    showError(info, err);
  }
}

export function showRuns(active) {
  clearInterval(timer);
  if (!active) return;
  refresh();
  timer = setInterval(() => { if (!document.hidden) refresh(); }, POLL_MS);
}

export function initRuns() {
  $("#runs-x").addEventListener("change", draw);
  $("#runs-log").addEventListener("change", draw);
  window.addEventListener("resize", () => curves.length && draw());
}

// The page: tabs, the model list, the API key, and each view's set-up.
import { get, setKey } from "./api.js";
import { $, $$, fillModels } from "./dom.js";
import { initAttention } from "./attention.js";
import { initComplete } from "./complete.js";
import { initFill } from "./fill.js";
import { initRuns, showRuns } from "./runs.js";
import { initSide } from "./side.js";

function selectTab(name) {
  for (const b of $$("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of $$("section.tab")) s.classList.toggle("active", s.id === name);
  showRuns(name === "runs");
  history.replaceState(null, "", `#${name}`);
}

async function pollStatus() {
  try {
    const { body } = await get("/api/status");
    const w = body.worker;
    $("#status").textContent = `queue ${w.admitted}/${w.max_queue}`;
  } catch { $("#status").textContent = ""; }
}

async function start() {
  document.addEventListener("need-key", () => { $("#key-form").hidden = false; });
  $("#key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    setKey($("#key").value);
    location.reload();
  });
  for (const b of $$("#tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));
  let models = [];
  try {
    models = (await get("/v1/models")).body.data;
  } catch (err) {
    $("#complete-info").textContent = err.message;
  }
  fillModels($("#complete-model"), models, ["causal"]);
  fillModels($("#fill-model"), models, ["masked", "diffusion"]);
  initComplete();
  initFill(models);
  initAttention(models);
  initSide(models);
  initRuns();
  const tab = location.hash.slice(1);
  selectTab($(`#tabs button[data-tab="${tab}"]`) ? tab : "complete");
  document.body.dataset.ready = String(models.length);
  pollStatus();
  setInterval(pollStatus, 5000);
}

start();

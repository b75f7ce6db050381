// Side by side: one prompt (or text with blanks) sent to a causal, a masked and a diffusion
// model at once; each column says whether its answer is native or simulated.
import { $, $$, clearError, el, FAMILY_COLORS, fillModels, showError } from "./dom.js";
import { streamInto } from "./complete.js";
import { fillInto } from "./fill.js";

const FAMILIES = ["causal", "masked", "diffusion"];

function column(family, models) {
  const mine = models.filter((m) => m.objective === family);
  const head = el("h3", { textContent: family });
  head.style.color = FAMILY_COLORS[family];
  const col = el("div", { class: "column", dataset: { family } }, head);
  if (!mine.length) {
    col.append(el("p", { class: "hint", textContent: `no ${family} model loaded` }));
    return col;
  }
  const select = el("select", { class: "model" });
  fillModels(select, mine);
  col.append(select, el("p", { class: "note" }), el("pre", { class: "output" }), el("div", { class: "masks" }), el("p", { class: "info" }));
  return col;
}

async function run(col, models, mode) {
  const select = $("select", col);
  if (!select) return;
  const model = models.find((m) => m.id === select.value);
  const [note, out, masks, info] = [$(".note", col), $("pre", col), $(".masks", col), $(".info", col)];
  clearError(info);
  out.replaceChildren();
  masks.replaceChildren();
  try {
    if (mode === "complete") {
      const body = { model: model.id, prompt: $("#side-text").value, max_tokens: Number($("#side-max").value), temperature: 0.8, top_p: 0.95, seed: Number($("#side-seed").value) };
      await streamInto(body, out, note);
    } else {
      await fillInto(model.id, model.objective, $("#side-text").value, 5, false, masks, note);
    }
  } catch (err) {
    showError(info, err);
  }
}

export function initSide(models) {
  $("#side-columns").replaceChildren(...FAMILIES.map((f) => column(f, models)));
  const go = (mode) => () => Promise.all($$("#side-columns .column").map((c) => run(c, models, mode)));
  $("#side-complete").addEventListener("click", go("complete"));
  $("#side-fill").addEventListener("click", go("fill"));
}

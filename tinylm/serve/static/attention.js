// Attention: the same text under two models side by side (a causal triangle next to a full grid).
import { post } from "./api.js";
import { $, $$, clearError, el, fillModels, showError } from "./dom.js";
import { drawHeatmap } from "./heatmap.js";

function options(select, n, current) {
  const values = ["mean", ...Array.from({ length: n }, (_, i) => String(i))];
  select.replaceChildren(...values.map((v) => el("option", { value: v, textContent: v })));
  select.value = values.includes(current) ? current : "mean";
}

async function drawSide(figure, models, text) {
  const model = models.find((m) => m.id === $(".attn-model", figure).value);
  const layer = $(".attn-layer", figure);
  const head = $(".attn-head", figure);
  options(layer, model.n_layer, layer.value);
  options(head, model.n_head, head.value);
  const pick = (s) => (s.value === "mean" ? null : Number(s.value));
  const res = await post("/v1/attention", { model: model.id, text, layer: pick(layer), head: pick(head) });
  drawHeatmap($("canvas", figure), res.map, res.labels);
  const which = `${res.layer ?? "mean of layers"}, ${res.head ?? "mean of heads"}`;
  $("figcaption", figure).textContent = `${res.visibility} · ${which}${res.truncated ? " · text cut to the context" : ""}`;
}

export function initAttention(models) {
  const figures = $$("#attention figure");
  fillModels($(".attn-model", figures[0]), models, ["causal"]);
  fillModels($(".attn-model", figures[1]), models, ["masked", "diffusion"]);
  const info = $("#attn-info");
  const show = async () => {
    clearError(info);
    try {
      await Promise.all(figures.map((f) => drawSide(f, models, $("#attn-text").value)));
    } catch (err) {
      showError(info, err);
    }
  };
  $("#attn-go").addEventListener("click", show);
  for (const s of $$("#attention select")) s.addEventListener("change", show);
}

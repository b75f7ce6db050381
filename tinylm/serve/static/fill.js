// Fill mask: the candidates for each [MASK], with probability bars.
import { post } from "./api.js";
import { renderBars } from "./bars.js";
import { $, clearError, FAMILY_COLORS, showError } from "./dom.js";

export async function fillInto(model, objective, text, topK, joint, out, note) {
  out.dataset.state = "filling";
  const res = await post("/v1/fill-mask", { model, inputs: text, top_k: topK, joint });
  note.textContent = res.note || (res.warnings || []).join(" ");
  note.classList.toggle("simulated", res.simulated);
  renderBars(out, res.result, FAMILY_COLORS[objective]);
  out.dataset.state = "done";
  return res;
}

export function initFill(models) {
  const info = $("#fill-info");
  $("#fill-go").addEventListener("click", async () => {
    clearError(info);
    const model = models.find((m) => m.id === $("#fill-model").value);
    try {
      await fillInto(model.id, model.objective, $("#fill-text").value, Number($("#fill-k").value),
        $("#fill-joint").checked, $("#fill-out"), $("#fill-note"));
    } catch (err) {
      showError(info, err);
      $("#fill-out").dataset.state = "done";
    }
  });
}

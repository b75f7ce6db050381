// Probability bars for fill-mask candidates, drawn with plain DOM elements.
import { el } from "./dom.js";

function visible(token) {
  return token.replace(/\n/g, "\\n").replace(/\t/g, "\\t").replace(/^ /, "·").replace(/ $/, "·") || "∅";
}

// result: the Hugging Face shape (one mask: a list of candidates; several: a list of lists).
export function renderBars(container, result, color = "#2563eb") {
  const masks = Array.isArray(result[0]) ? result : [result];
  container.replaceChildren(...masks.map((cands, i) => {
    const rows = cands.map((c) => {
      const bar = el("div", { class: "bar" });
      bar.style.width = `${Math.max(0.5, c.score * 100)}%`;
      bar.style.background = color;
      return el("div", { class: "cand" },
        el("code", { textContent: visible(c.token_str) }),
        el("div", { class: "track" }, bar),
        el("span", { class: "score", textContent: c.score.toFixed(3) }));
    });
    return el("div", { class: "mask" }, el("h4", { textContent: masks.length > 1 ? `[MASK] ${i + 1}` : "[MASK]" }), ...rows);
  }));
  const best = masks.map((cands) => cands[0]?.sequence).filter(Boolean);
  if (masks.length === 1 && best.length) container.append(el("p", { class: "filled", textContent: best[0] }));
}

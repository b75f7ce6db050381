// Small DOM helpers shared by the views.
export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];

export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c);
  return node;
}

export const FAMILY_COLORS = { causal: "#2563eb", masked: "#ea580c", diffusion: "#16a34a" };

// Fill a <select> with the models, choosing the first whose objective is in `prefer`.
export function fillModels(select, models, prefer = []) {
  select.replaceChildren(...models.map((m) => el("option", {
    value: m.id, textContent: `${m.id} · ${m.objective} · ${formatCount(m.parameters)}`,
  })));
  const pick = models.find((m) => prefer.includes(m.objective));
  if (pick) select.value = pick.id;
}

export function formatCount(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return `${n}`;
}

export function showError(node, err) {
  node.textContent = err.message || String(err);
  node.classList.add("error");
}

export function clearError(node) {
  node.textContent = "";
  node.classList.remove("error");
}

// A canvas sized to its CSS box at the screen's pixel density; returns its 2D context.
export function fitCanvas(canvas, height) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 400;
  canvas.style.height = `${height}px`;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width, height };
}

// An attention map on a canvas: rows are the tokens looking, columns the tokens looked at.
import { fitCanvas } from "./dom.js";

// matplotlib's "Blues" stops, on a square-root scale as in `tinylm attention`
const BLUES = [[247, 251, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]];

function shade(w) {
  const t = Math.min(1, Math.sqrt(w)) * (BLUES.length - 1);
  const i = Math.min(Math.floor(t), BLUES.length - 2);
  const [a, b] = [BLUES[i], BLUES[i + 1]];
  const mix = a.map((v, k) => Math.round(v + (b[k] - v) * (t - i)));
  return `rgb(${mix.join(",")})`;
}

export function drawHeatmap(canvas, map, labels) {
  const n = labels.length;
  const margin = 58;
  const width = canvas.clientWidth || 400;
  const cell = Math.max(6, Math.min(26, Math.floor((width - margin - 4) / n)));
  const { ctx } = fitCanvas(canvas, margin + cell * n + 4);
  ctx.font = `${Math.min(12, cell)}px ui-monospace, monospace`;
  ctx.fillStyle = "#334155";
  ctx.textBaseline = "middle";
  labels.forEach((label, i) => {
    ctx.textAlign = "right";
    ctx.fillText(label, margin - 4, margin + cell * i + cell / 2);
    ctx.save();
    ctx.translate(margin + cell * i + cell / 2, margin - 4);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "left";
    ctx.fillText(label, 0, 0);
    ctx.restore();
  });
  map.forEach((row, i) => row.forEach((w, j) => {
    // exactly 0 only where the mask forbids looking: drawn apart from faint attention
    ctx.fillStyle = w <= 0 ? "#e2e8f0" : shade(w);
    ctx.fillRect(margin + cell * j, margin + cell * i, cell - 1, cell - 1);
  }));
  canvas.dataset.cells = String(n * n);
}

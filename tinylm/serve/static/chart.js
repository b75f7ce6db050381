// Line charts on a canvas: one line per run, axes with round ticks, an optional log scale.
import { fitCanvas } from "./dom.js";

function ticks(lo, hi, count = 5) {
  const span = hi - lo || Math.abs(hi) || 1;
  const step = 10 ** Math.floor(Math.log10(span / count));
  const unit = [1, 2, 5, 10].map((m) => m * step).find((s) => span / s <= count) || step * 10;
  const out = [];
  for (let v = Math.ceil(lo / unit) * unit; v <= hi + unit * 1e-9; v += unit) out.push(v);
  return out;
}

function label(v) {
  if (Math.abs(v) >= 1e6) return `${+(v / 1e6).toFixed(2)}M`;
  if (Math.abs(v) >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return `${+v.toFixed(3)}`;
}

// series: [{name, color, points: [[x, y], ...]}]; returns how many points were drawn.
export function drawLines(canvas, series, { logY = false, xName = "step" } = {}) {
  const { ctx, width, height } = fitCanvas(canvas, 260);
  const pad = { left: 52, right: 12, top: 10, bottom: 30 };
  const all = series.flatMap((s) => s.points).filter(([, y]) => !logY || y > 0);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = "#64748b";
  if (!all.length) {
    ctx.fillText("no points yet", pad.left, height / 2);
    canvas.dataset.points = "0";
    return 0;
  }
  const fy = logY ? Math.log10 : (y) => y;
  const xs = all.map(([x]) => x);
  const ys = all.map(([, y]) => fy(y));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs) || 1];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const px = (x) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const py = (y) => height - pad.bottom - ((fy(y) - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);
  ctx.strokeStyle = "#e2e8f0";
  ctx.textAlign = "right";
  for (const t of ticks(y0, y1)) {
    const y = height - pad.bottom - ((t - y0) / (y1 - y0 || 1)) * (height - pad.top - pad.bottom);
    ctx.beginPath(); ctx.moveTo(pad.left, y); ctx.lineTo(width - pad.right, y); ctx.stroke();
    ctx.fillText(label(logY ? 10 ** t : t), pad.left - 4, y + 3);
  }
  ctx.textAlign = "center";
  for (const t of ticks(x0, x1)) ctx.fillText(label(t), px(t), height - pad.bottom + 14);
  ctx.fillText(xName, (width + pad.left) / 2, height - 3);
  let drawn = 0;
  for (const s of series) {
    const pts = s.points.filter(([, y]) => !logY || y > 0);
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    pts.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
    ctx.stroke();
    if (pts.length < 60) for (const [x, y] of pts) ctx.fillRect(px(x) - 1.5, py(y) - 1.5, 3, 3);
    drawn += pts.length;
  }
  canvas.dataset.points = String(drawn);
  return drawn;
}

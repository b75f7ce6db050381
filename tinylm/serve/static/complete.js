// Complete: a prompt whose completion streams in, token by token.
import { stream } from "./api.js";
import { $, clearError, el, showError } from "./dom.js";

let controller = null;

function unescape(text) {
  return text.replace(/\\([nt\\])/g, (_, c) => ({ n: "\n", t: "\t", "\\": "\\" })[c]);
}

export function request(prefix, model) {
  const number = (id) => $(`#${prefix}-${id}`)?.value;
  const body = { model, prompt: $(`#${prefix}-prompt`)?.value ?? "", max_tokens: Number(number("max")) };
  if (number("temp") !== undefined) body.temperature = Number(number("temp"));
  if (number("top-p") !== undefined) body.top_p = Number(number("top-p"));
  if (number("seed")) body.seed = Number(number("seed"));
  if (number("stop")) body.stop = unescape(number("stop"));
  if ($(`#${prefix}-ignore-eos`)?.checked) body.ignore_eos = true;
  return body;
}

// Stream one completion into `out` (the prompt in grey, then the new text); resolves when done.
export async function streamInto(body, out, note, signal) {
  out.dataset.state = "streaming";
  const started = performance.now();
  let pieces = 0;
  out.replaceChildren(el("span", { class: "prompt", textContent: body.prompt }));
  const text = el("span", { class: "new" });
  out.append(text);
  await stream(body, (chunk) => {
    if (chunk.tinylm && note) {
      note.textContent = chunk.tinylm.note || "";
      note.classList.toggle("simulated", chunk.tinylm.simulated);
    }
    for (const choice of chunk.choices) {
      text.textContent += choice.text;
      pieces += 1;
      if (choice.finish_reason) out.dataset.finish = choice.finish_reason;
    }
  }, signal);
  out.dataset.state = "done";
  return { pieces, seconds: (performance.now() - started) / 1000 };
}

export function initComplete() {
  const go = $("#complete-go");
  const stop = $("#complete-stop-btn");
  const info = $("#complete-info");
  go.addEventListener("click", async () => {
    controller = new AbortController();
    go.disabled = true;
    stop.disabled = false;
    clearError(info);
    try {
      const body = request("complete", $("#complete-model").value);
      const { pieces, seconds } = await streamInto(body, $("#complete-out"), $("#complete-note"), controller.signal);
      info.textContent = `${pieces} pieces in ${seconds.toFixed(2)} s`;
    } catch (err) {
      $("#complete-out").dataset.state = "done";
      if (err.name === "AbortError") info.textContent = "stopped";
      else showError(info, err);
    } finally {
      go.disabled = false;
      stop.disabled = true;
    }
  });
  // aborting the fetch closes the connection: the server stops generating at its next token
  stop.addEventListener("click", () => controller?.abort());
}

// Talking to the server: JSON calls, the SSE stream of a completion, the API key.
const KEY = "tinylm-api-key";

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = sessionStorage.getItem(KEY);
  if (key) h.Authorization = `Bearer ${key}`;
  return h;
}

export function setKey(key) { sessionStorage.setItem(KEY, key); }

async function fail(res) {
  let message = `${res.status} ${res.statusText}`;
  try { message = (await res.json()).error.message; } catch { /* not JSON */ }
  if (res.status === 401) document.dispatchEvent(new CustomEvent("need-key"));
  throw new ApiError(res.status, message);
}

export async function get(path, extra = {}) {
  const res = await fetch(path, { headers: { ...headers(), ...extra } });
  if (res.status === 304) return null;
  if (!res.ok) await fail(res);
  return { body: await res.json(), etag: res.headers.get("ETag") };
}

export async function post(path, body) {
  const res = await fetch(path, { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (!res.ok) await fail(res);
  return res.json();
}

// POST /v1/completions with stream: true; onChunk(chunk) per event, until data: [DONE].
export async function stream(body, onChunk, signal) {
  const res = await fetch("/v1/completions", {
    method: "POST", headers: headers(), signal,
    body: JSON.stringify({ ...body, stream: true }),
  });
  if (!res.ok) await fail(res);
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.replace(/^data: /, "");
      if (data === "[DONE]") return;
      const chunk = JSON.parse(data);
      if (chunk.error) throw new ApiError(500, chunk.error.message);
      onChunk(chunk);
    }
  }
}

// The Docker Engine API as the dashboard calls it: the server that served this page answers
// it under /api (with the same handlers as its sockets). Errors carry Docker's message.

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// A request to the API: a JSON body if given, Docker's JSON error thrown as ApiError.
export async function send(path, { method = "GET", body, headers = {}, signal } = {}) {
  const init = { method, signal, headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(`/api${path}`, init);
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const j = await res.json();
      if (j && j.message) message = j.message;
    } catch {
      // Not Docker's JSON error: keep the status line.
    }
    throw new ApiError(res.status, message);
  }
  return res;
}

async function request(method, path, body) {
  const res = await send(path, { method, body });
  const type = res.headers.get("Content-Type") || "";
  if (res.status === 204 || !type.includes("json")) return null;
  return res.json();
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const del = (path) => request("DELETE", path);

const q = encodeURIComponent;

export const api = {
  images: () => get("/images/json"),
  image: (id) => get(`/images/${q(id)}/json`),
  history: (id) => get(`/images/${q(id)}/history`),
  removeImage: (id, force) => del(`/images/${q(id)}?force=${force ? 1 : 0}`),
  tagImage: (id, repo, tag) => post(`/images/${q(id)}/tag?repo=${q(repo)}&tag=${q(tag)}`),
  containers: () => get("/containers/json?all=1"),
  container: (id) => get(`/containers/${q(id)}/json`),
  create: (name, spec) => post(`/containers/create${name ? `?name=${q(name)}` : ""}`, spec),
  action: (id, verb) => post(`/containers/${q(id)}/${verb}`),
  exec: (id, spec) => post(`/containers/${q(id)}/exec`, spec),
  removeContainer: (id) => del(`/containers/${q(id)}?force=1&v=1`),
  volumes: () => get("/volumes"),
  createVolume: (name) => post("/volumes/create", name ? { Name: name } : {}),
  removeVolume: (name) => del(`/volumes/${q(name)}`),
  networks: () => get("/networks"),
  createNetwork: (name) => post("/networks/create", { Name: name }),
  removeNetwork: (id) => del(`/networks/${q(id)}`),
  version: () => get("/version"),
  projects: () => get("/compose/projects?all=1"),
  builds: () => get("/build/history"),
  build: (id) => get(`/build/history/${q(id)}`),
  composeAction: (name, verb) => post(`/compose/projects/${q(name)}/${verb}`),
};

// Reads Docker's multiplexed stream (stdout/stderr frames: a stream byte, three zeros, a
// big-endian length) or, for a container with a terminal, raw bytes; calls onLine(stream,
// text) for every complete line. Returns a function that stops reading.
export function followLogs(id, { tty, tail = 500, onLine, onEnd }) {
  const ctrl = new AbortController();
  const decoders = { 1: new TextDecoder(), 2: new TextDecoder() };
  const partial = { 1: "", 2: "" };
  const emit = (stream, text) => {
    const lines = (partial[stream] + text).split("\n");
    partial[stream] = lines.pop();
    for (const l of lines) onLine(stream === 2 ? "stderr" : "stdout", l.replace(/\r$/, ""));
  };
  (async () => {
    try {
      const res = await send(`/containers/${q(id)}/logs?stdout=1&stderr=1&follow=1&timestamps=1&tail=${tail}`, {
        signal: ctrl.signal,
      });
      const reader = res.body.getReader();
      let buf = new Uint8Array(0);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        if (tty) {
          emit(1, decoders[1].decode(value, { stream: true }));
          continue;
        }
        const joined = new Uint8Array(buf.length + value.length);
        joined.set(buf);
        joined.set(value, buf.length);
        buf = joined;
        while (buf.length >= 8) {
          const size = new DataView(buf.buffer, buf.byteOffset + 4, 4).getUint32(0);
          if (buf.length < 8 + size) break;
          const stream = buf[0] === 2 ? 2 : 1;
          emit(stream, decoders[stream].decode(buf.subarray(8, 8 + size), { stream: true }));
          buf = buf.subarray(8 + size);
        }
      }
      for (const s of [1, 2]) if (partial[s]) onLine(s === 2 ? "stderr" : "stdout", partial[s]);
      onEnd && onEnd(null);
    } catch (e) {
      if (e.name !== "AbortError") onEnd && onEnd(e);
    }
  })();
  return () => ctrl.abort();
}

// Reads a stream of JSON objects, one per line (events, stats, pull progress), calling
// onObject for each; resolves when the stream ends. `signal` aborts it.
export async function readJsonLines(path, onObject, { signal, method = "GET", body, onOpen, headers = {} } = {}) {
  const res = await send(path, { method, body, headers, signal });
  onOpen && onOpen();
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
    let nl;
    while ((nl = text.indexOf("\n")) >= 0) {
      const line = text.slice(0, nl).trim();
      text = text.slice(nl + 1);
      if (!line) continue;
      let obj;
      try {
        obj = JSON.parse(line);
      } catch {
        continue; // A line that is not JSON is skipped.
      }
      onObject(obj);
    }
  }
}

// Follows /events and calls onEvent for each; reconnects after a pause if the stream ends,
// so the views stay live without polling. onState(true|false) tells whether it is connected.
export function followEvents(onEvent, onState) {
  let stopped = false;
  let ctrl;
  (async () => {
    while (!stopped) {
      ctrl = new AbortController();
      try {
        await readJsonLines("/events", onEvent, { signal: ctrl.signal, onOpen: () => onState && onState(true) });
      } catch (e) {
        if (e.name === "AbortError") return;
      }
      onState && onState(false);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  return () => {
    stopped = true;
    ctrl && ctrl.abort();
  };
}

// A container's stats, a sample a second, as Docker streams them. Returns a stop function.
export function followStats(id, onSample) {
  const ctrl = new AbortController();
  readJsonLines(`/containers/${q(id)}/stats?stream=1`, onSample, { signal: ctrl.signal }).catch(() => {});
  return () => ctrl.abort();
}

// X-Registry-Auth as Docker's clients send it: base64url of the credentials' JSON.
function registryAuth(auth) {
  if (!auth || !auth.username) return {};
  const json = JSON.stringify({ username: auth.username, password: auth.password || "", serveraddress: auth.server || "" });
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(json)));
  return { "X-Registry-Auth": b64.replace(/\+/g, "-").replace(/\//g, "_") };
}

// Pull or push, with Docker's JSON progress lines given to onLine as they come.
export function pullImage(ref, auth, onLine, signal) {
  const at = ref.lastIndexOf(":");
  const [image, tag] = at > ref.lastIndexOf("/") ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, "latest"];
  return readJsonLines(`/images/create?fromImage=${q(image)}&tag=${q(tag)}`, onLine, {
    method: "POST",
    signal,
    headers: registryAuth(auth),
  });
}

export function pushImage(ref, auth, onLine, signal) {
  return readJsonLines(`/images/${q(ref)}/push`, onLine, { method: "POST", signal, headers: registryAuth(auth) });
}

// Builds: the build history (every `berth build` and API build: steps, cache hits,
// durations, output, result), and a build started here from a directory on this machine.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, readJsonLines } from "../api.js";
import { Dialog, Table } from "../components.js";
import { shortId } from "../format.js";

const q = encodeURIComponent;

export function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function Builds({ builds }) {
  const [open, setOpen] = useState(null);
  const [starting, setStarting] = useState(false);
  const columns = [
    { key: "started", label: "Started", value: (b) => b.Started, render: (b) => new Date(b.Started).toLocaleString() },
    { key: "tags", label: "Tags", value: (b) => b.Tags.join(", "), render: (b) => b.Tags.join(", ") || html`<span class="dim">${shortId(b.ImageID || "")}</span>` },
    { key: "context", label: "Context", value: (b) => b.Context, className: "mono dim" },
    { key: "status", label: "Status", value: (b) => b.Status, render: (b) => html`<span class=${`badge ${b.Status === "succeeded" ? "running" : "exited"}`}>${b.Status}</span>` },
    {
      key: "steps",
      label: "Steps",
      value: (b) => b.Steps.length,
      render: (b) => `${b.Steps.length} (${b.Steps.filter((s) => s.Cached).length} cached)`,
    },
    { key: "duration", label: "Duration", value: (b) => b.DurationMs, render: (b) => duration(b.DurationMs), className: "num" },
  ];
  return html`<section aria-labelledby="builds-title">
    <div class="toolbar">
      <h1 id="builds-title">Builds</h1>
      <span class="count">${builds.length} recent</span>
      <button class="primary push-right" onClick=${() => setStarting(true)}>Build…</button>
    </div>
    <${Table}
      label="Builds"
      columns=${columns}
      rows=${builds}
      rowKey=${(b) => b.ID}
      onOpen=${setOpen}
      initialSort=${{ key: "started", dir: -1 }}
      empty="No builds yet. Run berth build, or start one here."
    />
    ${open && html`<${BuildDetails} id=${open.ID} onClose=${() => setOpen(null)} />`}
    ${starting && html`<${StartBuild} onClose=${() => setStarting(false)} />`}
  </section>`;
}

function BuildDetails({ id, onClose }) {
  const [b, setB] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    api.build(id).then(setB, (e) => setError(e.message));
  }, [id]);
  return html`<${Dialog} title=${`Build ${b ? b.Tags.join(", ") || shortId(b.ImageID || "") : ""}`} onClose=${onClose}>
    <div class="details">
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${b &&
      html`<dl>
          <dt>Context</dt><dd class="mono">${b.Context}</dd>
          <dt>Dockerfile</dt><dd class="mono">${b.Dockerfile}</dd>
          <dt>Result</dt><dd>${b.Status}${b.ImageID ? html` · <span class="mono">${shortId(b.ImageID)}</span>` : ""}</dd>
          <dt>Duration</dt><dd>${duration(b.DurationMs)}</dd>
        </dl>
        ${b.Error && html`<p class="error" role="alert">${b.Error}</p>`}
        <ol class="steps" aria-label="Steps">
          ${b.Steps.map(
            (s) => html`<li key=${s.Number}>
              <details open=${!s.Cached && s.Log.length > 0}>
                <summary>
                  <span class="mono">${s.Number}/${s.Total} ${s.Instruction}</span>
                  ${s.Cached && html`<span class="badge cached">CACHED</span>`}
                  <span class="dim">${duration(s.DurationMs)}</span>
                </summary>
                ${s.Log.length ? html`<pre class="step-log">${s.Log.join("\n")}</pre>` : html`<p class="dim">No output.</p>`}
              </details>
            </li>`,
          )}
        </ol>`}
    </div>
  <//>`;
}

function StartBuild({ onClose }) {
  const [form, setForm] = useState({ context: "", dockerfile: "Dockerfile", tag: "" });
  const [lines, setLines] = useState([]);
  const [error, setError] = useState(null);
  const [state, setState] = useState("idle");
  const out = useRef();
  const field = (k) => ({ value: form[k], onInput: (e) => setForm({ ...form, [k]: e.target.value }) });
  useEffect(() => {
    if (out.current) out.current.scrollTop = out.current.scrollHeight;
  }, [lines]);
  const start = async (e) => {
    e.preventDefault();
    setError(null);
    setLines([]);
    setState("running");
    const got = [];
    let text = "";
    const params = [`contextpath=${q(form.context.trim())}`, `dockerfile=${q(form.dockerfile.trim() || "Dockerfile")}`];
    if (form.tag.trim()) params.push(`t=${q(form.tag.trim())}`);
    try {
      await readJsonLines(`/build?${params.join("&")}`, (m) => {
        if (m.error || m.errorDetail) throw new Error((m.errorDetail && m.errorDetail.message) || m.error);
        if (m.stream) {
          text += m.stream;
          const parts = text.split("\n");
          text = parts.pop();
          got.push(...parts);
          setLines([...got]);
        }
      }, { method: "POST" });
      setState("done");
    } catch (err) {
      setError(err.message);
      setState("failed");
    }
  };
  return html`<${Dialog} title="Start a build" onClose=${onClose}>
    <form class="form" onSubmit=${start}>
      <label>Context <span class="hint">a directory on this machine, as an absolute path</span>
        <input class="mono" required placeholder="/home/me/app" ...${field("context")} />
      </label>
      <label>Dockerfile <span class="hint">relative to the context</span>
        <input class="mono" ...${field("dockerfile")} />
      </label>
      <label>Tag <span class="hint">REPOSITORY[:TAG], optional</span>
        <input class="mono" placeholder="app:dev" ...${field("tag")} />
      </label>
      ${lines.length > 0 && html`<pre class="step-log" ref=${out} aria-label="Build output">${lines.join("\n")}</pre>`}
      ${error && html`<p class="error" role="alert">${error}</p>`}
      ${state === "done" && html`<p class="ok" role="status">Built.</p>`}
      <div class="buttons">
        <button type="button" onClick=${onClose}>Close</button>
        <button type="submit" class="primary" disabled=${state === "running"}>${state === "running" ? "Building…" : "Build"}</button>
      </div>
    </form>
  <//>`;
}

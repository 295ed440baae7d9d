// Images: the table (repository, tag, ID, created, size) with search and sort, details
// (config, layers and history), and the Run dialog that creates and starts a container.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../api.js";
import { Dialog, Search, Table, useAction } from "../components.js";
import { ago, shortId, size, splitTag } from "../format.js";
import { TagDialog, TransferDialog } from "./image_transfer.js";

// One row per tag, as `docker images` shows them; untagged images as <none>.
function rowsOf(images) {
  const rows = [];
  for (const img of images) {
    const tags = (img.RepoTags || []).filter((t) => t !== "<none>:<none>");
    if (!tags.length) rows.push({ img, repo: "<none>", tag: "<none>", ref: img.Id });
    for (const t of tags) {
      const [repo, tag] = splitTag(t);
      rows.push({ img, repo, tag, ref: t });
    }
  }
  return rows;
}

export function Images({ images, report, onRan }) {
  const [filter, setFilter] = useState("");
  const [open, setOpen] = useState(null);
  const [running, setRunning] = useState(null);
  const [transfer, setTransfer] = useState(null);
  const [tagging, setTagging] = useState(null);
  const [busy, act] = useAction(report);
  const needle = filter.trim().toLowerCase();
  const rows = rowsOf(images).filter(
    (r) => !needle || `${r.repo}:${r.tag} ${shortId(r.img.Id)}`.toLowerCase().includes(needle),
  );
  const columns = [
    { key: "repo", label: "Repository", value: (r) => r.repo, render: (r) => html`<span class="strong">${r.repo}</span>` },
    { key: "tag", label: "Tag", value: (r) => r.tag },
    { key: "id", label: "Image ID", value: (r) => shortId(r.img.Id), className: "mono" },
    { key: "created", label: "Created", value: (r) => r.img.Created, render: (r) => ago(r.img.Created) },
    { key: "size", label: "Size", value: (r) => r.img.Size, render: (r) => size(r.img.Size), className: "num" },
    {
      key: "actions",
      label: html`<span class="sr-only">Actions</span>`,
      className: "actions",
      render: (r) => html`
        <button class="primary" aria-label=${`Run ${r.ref}`} onClick=${() => setRunning(r)}>▶ Run</button>
        <button aria-label=${`Tag ${r.ref}`} onClick=${() => setTagging(r.ref)}>Tag</button>
        ${r.tag !== "<none>" && html`<button aria-label=${`Push ${r.ref}`} onClick=${() => setTransfer({ verb: "push", ref: r.ref })}>Push</button>`}
        <button
          class="danger"
          aria-label=${`Remove ${r.ref}`}
          disabled=${busy}
          onClick=${() => confirm(`Remove ${r.ref}?`) && act(() => api.removeImage(r.ref, false))}
        >
          Remove
        </button>
      `,
    },
  ];
  return html`<section aria-labelledby="images-title">
    <div class="toolbar">
      <h1 id="images-title">Images</h1>
      <span class="count">${images.length} image${images.length === 1 ? "" : "s"}</span>
      <${Search} value=${filter} onInput=${setFilter} placeholder="Search images" />
      <button onClick=${() => setTransfer({ verb: "pull", ref: "" })}>Pull…</button>
    </div>
    <${Table}
      label="Images"
      columns=${columns}
      rows=${rows}
      rowKey=${(r) => r.ref}
      onOpen=${setOpen}
      initialSort=${{ key: "created", dir: -1 }}
      empty=${needle ? `No image matches “${filter}”.` : "No images yet. Build one with `berth build -t NAME .` or pull one."}
    />
    ${open && html`<${ImageDetails} row=${open} onClose=${() => setOpen(null)} onRun=${() => (setRunning(open), setOpen(null))} />`}
    ${transfer && html`<${TransferDialog} verb=${transfer.verb} initial=${transfer.ref} onClose=${() => setTransfer(null)} />`}
    ${tagging && html`<${TagDialog} source=${tagging} onClose=${() => setTagging(null)} />`}
    ${running &&
    html`<${RunDialog}
      row=${running}
      onClose=${() => setRunning(null)}
      onRan=${(id) => (setRunning(null), onRan(id))}
    />`}
  </section>`;
}

function ImageDetails({ row, onClose, onRun }) {
  const [info, setInfo] = useState(null);
  const [history, setHistory] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    Promise.all([api.image(row.img.Id), api.history(row.img.Id)])
      .then(([i, h]) => (setInfo(i), setHistory(h)))
      .catch((e) => setError(e.message));
  }, [row.img.Id]);
  const c = (info && info.Config) || {};
  return html`<${Dialog} title=${row.ref} onClose=${onClose}>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${info &&
    html`<div class="details">
        <dl>
          <dt>ID</dt><dd class="mono">${info.Id}</dd>
          <dt>Created</dt><dd>${info.Created}</dd>
          <dt>Size</dt><dd>${size(info.Size)}</dd>
          <dt>Platform</dt><dd>${info.Os}/${info.Architecture}</dd>
          <dt>Command</dt><dd class="mono">${JSON.stringify(c.Cmd || null)}</dd>
          <dt>Entrypoint</dt><dd class="mono">${JSON.stringify(c.Entrypoint || null)}</dd>
          <dt>Working dir</dt><dd class="mono">${c.WorkingDir || "/"}</dd>
          <dt>Exposed ports</dt><dd class="mono">${Object.keys(c.ExposedPorts || {}).join(", ") || "—"}</dd>
          <dt>Environment</dt><dd class="mono">${(c.Env || []).map((e) => html`<div>${e}</div>`)}</dd>
          <dt>Layers</dt><dd>${((info.RootFS || {}).Layers || []).length}</dd>
        </dl>
        <h3>Layers</h3>
        <table aria-label="History" class="compact">
          <thead><tr><th scope="col">Step (created by)</th><th scope="col" class="num">Layer size</th><th scope="col">Created</th></tr></thead>
          <tbody>
            ${history.map(
              (h, i) => html`<tr key=${i}>
                <td class="mono wrap">${h.CreatedBy || "—"}</td>
                <td class="num">${size(h.Size)}</td>
                <td>${ago(h.Created)}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        <div class="buttons"><button class="primary" onClick=${onRun}>▶ Run</button></div>
      </div>`}
  <//>`;
}

// "8080:80", "127.0.0.1:8080:80/udp", "80" → Docker's PortBindings.
export function parsePorts(text) {
  const exposed = {};
  const bindings = {};
  for (const line of text.split(/[\n,]/).map((s) => s.trim()).filter(Boolean)) {
    const [spec, proto = "tcp"] = line.split("/");
    const parts = spec.split(":");
    const container = parts.pop();
    if (!/^\d+$/.test(container)) throw new Error(`ports: “${line}” is not HOST:CONTAINER`);
    const hostPort = parts.pop() || "";
    const hostIp = parts.join(":");
    if (hostPort && !/^\d+$/.test(hostPort)) throw new Error(`ports: “${line}”: the host port must be a number`);
    const key = `${container}/${proto}`;
    exposed[key] = {};
    (bindings[key] = bindings[key] || []).push({ HostIp: hostIp, HostPort: hostPort });
  }
  return { exposed, bindings };
}

function lines(text) {
  return text.split("\n").map((s) => s.trim()).filter(Boolean);
}

// Splits a command line as a shell would for simple quoting ('…', "…", \x).
export function splitCommand(text) {
  const out = [];
  let cur = null;
  let quote = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && i + 1 < text.length) cur += text[++i];
      else cur += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      cur = cur ?? "";
    } else if (ch === "\\" && i + 1 < text.length) {
      cur = (cur ?? "") + text[++i];
    } else if (/\s/.test(ch)) {
      if (cur !== null) out.push(cur);
      cur = null;
    } else cur = (cur ?? "") + ch;
  }
  if (quote) throw new Error("command: a quote is not closed");
  if (cur !== null) out.push(cur);
  return out;
}

function RunDialog({ row, onClose, onRan }) {
  const [form, setForm] = useState({ name: "", ports: "", env: "", volumes: "", command: "" });
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const field = (key) => ({ value: form[key], onInput: (e) => setForm({ ...form, [key]: e.target.value }) });
  const exposed = Object.keys((row.img.Config || {}).ExposedPorts || {});
  const submit = async (e) => {
    e.preventDefault();
    setError(null);
    let spec;
    try {
      const { exposed: ports, bindings } = parsePorts(form.ports);
      const binds = lines(form.volumes);
      for (const b of binds) if (!b.includes(":")) throw new Error(`volumes: “${b}” is not SOURCE:/path`);
      spec = {
        Image: row.ref,
        Env: lines(form.env),
        ExposedPorts: ports,
        HostConfig: { PortBindings: bindings, Binds: binds },
      };
      const cmd = splitCommand(form.command);
      if (cmd.length) spec.Cmd = cmd;
    } catch (err) {
      setError(err.message);
      return;
    }
    setBusy(true);
    try {
      const created = await api.create(form.name.trim(), spec);
      await api.action(created.Id, "start");
      onRan(created.Id);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} title=${`Run ${row.ref}`} onClose=${onClose}>
    <form class="form" onSubmit=${submit}>
      <label>Container name <input name="name" placeholder="a random name" autocomplete="off" ...${field("name")} /></label>
      <label
        >Ports <span class="hint">HOST:CONTAINER, one per line${exposed.length ? ` (the image exposes ${exposed.join(", ")})` : ""}</span>
        <textarea name="ports" rows="2" placeholder="8080:80" ...${field("ports")}></textarea>
      </label>
      <label
        >Environment <span class="hint">KEY=value, one per line</span>
        <textarea name="env" rows="2" ...${field("env")}></textarea>
      </label>
      <label
        >Volumes <span class="hint">NAME or /host/path : /container/path, one per line</span>
        <textarea name="volumes" rows="2" placeholder="data:/data" ...${field("volumes")}></textarea>
      </label>
      <label
        >Command <span class="hint">empty: the image's ${JSON.stringify((row.img.Config || {}).Cmd || [])}</span>
        <input name="command" autocomplete="off" class="mono" ...${field("command")} />
      </label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="buttons">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary" disabled=${busy}>${busy ? "Starting…" : "Run"}</button>
      </div>
    </form>
  <//>`;
}

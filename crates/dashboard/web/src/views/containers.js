// Containers: the table (name, image, status with exit code and health, ports as links,
// created) with start/stop/restart/pause/remove, and a container's page: live logs (follow,
// search, stderr marked, download) and its inspect JSON.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, followLogs } from "../api.js";
import { Search, Table, useAction } from "../components.js";
import { ago, ports, shortId, size } from "../format.js";
import { StatsPanel, useStats } from "./stats.js";
import { Files } from "./files.js";
import { Terminal } from "./terminal.js";

const nameOf = (c) => (c.Names && c.Names[0] ? c.Names[0].replace(/^\//, "") : shortId(c.Id));

function StateBadge({ c }) {
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status || "");
  return html`<span class=${`badge ${c.State}`}>${c.State}</span>
    ${health && html` <span class=${`badge ${health[1].replace("health: ", "")}`}>${health[1].replace("health: ", "")}</span>`}
    <div class="sub">${c.Status}</div>`;
}

export function Containers({ containers, report, onOpen }) {
  const [filter, setFilter] = useState("");
  const stats = useStats(containers.filter((c) => c.State === "running").map((c) => c.Id));
  const [busy, act] = useAction(report);
  const needle = filter.trim().toLowerCase();
  const rows = containers.filter(
    (c) => !needle || `${nameOf(c)} ${c.Image} ${shortId(c.Id)} ${c.State}`.toLowerCase().includes(needle),
  );
  const verb = (c, v, label) => html`<button
    aria-label=${`${label} ${nameOf(c)}`}
    disabled=${busy}
    onClick=${() => act(() => api.action(c.Id, v))}
  >
    ${label}
  </button>`;
  const columns = [
    { key: "name", label: "Name", value: nameOf, render: (c) => html`<a href=${`/containers/${shortId(c.Id)}`} class="strong" onClick=${(e) => (e.preventDefault(), onOpen(c.Id))}>${nameOf(c)}</a>` },
    { key: "image", label: "Image", value: (c) => c.Image },
    { key: "state", label: "Status", value: (c) => c.State, render: (c) => html`<${StateBadge} c=${c} />` },
    {
      key: "ports",
      label: "Ports",
      render: (c) =>
        ports(c.Ports).map((p) =>
          p.url
            ? html`<a class="port" href=${p.url} target="_blank" rel="noopener noreferrer">${p.label} ↗</a> `
            : html`<span class="port">${p.label}</span> `,
        ),
    },
    {
      key: "cpu",
      label: "CPU",
      className: "num meter",
      value: (c) => (stats[c.Id] ? stats[c.Id].cpu : -1),
      render: (c) => (stats[c.Id] && c.State === "running" ? `${stats[c.Id].cpu.toFixed(1)} %` : "—"),
    },
    {
      key: "mem",
      label: "Memory",
      className: "num meter",
      value: (c) => (stats[c.Id] ? stats[c.Id].mem : -1),
      render: (c) => (stats[c.Id] && c.State === "running" ? size(stats[c.Id].mem) : "—"),
    },
    { key: "created", label: "Created", value: (c) => c.Created, render: (c) => ago(c.Created) },
    {
      key: "actions",
      label: html`<span class="sr-only">Actions</span>`,
      className: "actions",
      render: (c) => html`
        ${c.State === "running"
          ? html`${verb(c, "stop", "Stop")}${verb(c, "restart", "Restart")}${verb(c, "pause", "Pause")}`
          : c.State === "paused"
            ? verb(c, "unpause", "Resume")
            : verb(c, "start", "Start")}
        <button
          class="danger"
          aria-label=${`Remove ${nameOf(c)}`}
          disabled=${busy}
          onClick=${() => confirm(`Remove ${nameOf(c)}?`) && act(() => api.removeContainer(c.Id))}
        >
          Remove
        </button>
      `,
    },
  ];
  const running = containers.filter((c) => c.State === "running").length;
  return html`<section aria-labelledby="containers-title">
    <div class="toolbar">
      <h1 id="containers-title">Containers</h1>
      <span class="count">${running} running, ${containers.length} in all</span>
      <${Search} value=${filter} onInput=${setFilter} placeholder="Search containers" />
    </div>
    <${Table}
      label="Containers"
      columns=${columns}
      rows=${rows}
      rowKey=${(c) => c.Id}
      onOpen=${(c) => onOpen(c.Id)}
      initialSort=${{ key: "created", dir: -1 }}
      empty=${needle ? `No container matches “${filter}”.` : "No containers. Run one from the Images view."}
    />
  </section>`;
}

export function ContainerPage({ id, containers, report, onBack }) {
  const [tab, setTab] = useState("logs");
  const [info, setInfo] = useState(null);
  const summary = containers.find((c) => c.Id === id || c.Id.startsWith(id));
  const state = summary ? summary.State : null;
  useEffect(() => {
    api.container(id).then(setInfo, (e) => report(e.message));
  }, [id, state]);
  if (!info) return html`<p class="empty">Loading…</p>`;
  const name = info.Name.replace(/^\//, "");
  const tabs = [
    ["logs", "Logs"],
    ["stats", "Stats"],
    ["inspect", "Inspect"],
    ["files", "Files"],
    ...(info.State.Running ? [["terminal", "Terminal"]] : []),
  ];
  return html`<section aria-labelledby="container-title">
    <div class="toolbar">
      <button class="icon" aria-label="Back to containers" onClick=${onBack}>←</button>
      <h1 id="container-title">${name}</h1>
      <span class=${`badge ${info.State.Status}`}>${info.State.Status}</span>
      <span class="count mono">${shortId(info.Id)} · ${info.Config.Image}</span>
      ${summary && ports(summary.Ports).map((p) => p.url && html`<a class="port" href=${p.url} target="_blank" rel="noopener noreferrer">${p.label} ↗</a>`)}
    </div>
    <div role="tablist" class="tabs">
      ${tabs.map(
        ([k, label]) => html`<button role="tab" aria-selected=${tab === k} onClick=${() => setTab(k)}>${label}</button>`,
      )}
    </div>
    <div role="tabpanel">
      ${tab === "logs" && html`<${Logs} id=${info.Id} name=${name} tty=${info.Config.Tty} running=${info.State.Running} />`}
      ${tab === "files" && html`<${Files} id=${info.Id} name=${name} />`}
      ${tab === "stats" && html`<${StatsPanel} id=${info.Id} running=${info.State.Running} />`}
      ${tab === "terminal" && info.State.Running && html`<${Terminal} id=${info.Id} />`}
      ${tab === "inspect" && html`<pre class="json" aria-label="Inspect">${JSON.stringify(info, null, 2)}</pre>`}
    </div>
  </section>`;
}

function Logs({ id, name, tty, running }) {
  const [lines, setLines] = useState([]);
  const [filter, setFilter] = useState("");
  const [follow, setFollow] = useState(true);
  const [error, setError] = useState(null);
  const box = useRef();
  useEffect(() => {
    setLines([]);
    const got = [];
    let pending = false;
    const stop = followLogs(id, {
      tty,
      onLine: (stream, text) => {
        const sp = text.indexOf(" ");
        got.push({ stream, time: text.slice(0, sp), text: text.slice(sp + 1) });
        if (got.length > 5000) got.splice(0, got.length - 5000);
        // One render per frame, however fast the lines come.
        if (!pending) {
          pending = true;
          requestAnimationFrame(() => ((pending = false), setLines([...got])));
        }
      },
      onEnd: (e) => e && setError(e.message),
    });
    return stop;
  }, [id, running]);
  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines, follow]);
  const needle = filter.toLowerCase();
  const shown = needle ? lines.filter((l) => l.text.toLowerCase().includes(needle)) : lines;
  const download = () => {
    const text = lines.map((l) => `${l.time} ${l.stream} ${l.text}`).join("\n") + "\n";
    const a = document.createElement("a");
    a.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    a.download = `${name}.log`;
    a.click();
    URL.revokeObjectURL(a.href);
  };
  return html`<div class="logs-view">
    <div class="toolbar small">
      <${Search} value=${filter} onInput=${setFilter} placeholder="Search logs" />
      <label class="check"><input type="checkbox" checked=${follow} onChange=${(e) => setFollow(e.target.checked)} /> Follow</label>
      <button onClick=${download} disabled=${!lines.length}>Download</button>
      <span class="count">${shown.length} line${shown.length === 1 ? "" : "s"}</span>
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    <div class="logs" ref=${box} role="log" aria-label="Logs" tabindex="0">
      ${shown.length
        ? shown.map(
            (l, i) => html`<div key=${i} class=${`line ${l.stream}`}>
              <span class="time">${l.time.slice(11, 19)}</span><span class="text">${l.text}</span>
            </div>`,
          )
        : html`<div class="empty">${needle ? "No line matches." : "No output yet."}</div>`}
    </div>
  </div>`;
}

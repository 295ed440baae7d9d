// Volumes and networks: lists with the containers that use them; create and remove.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { api } from "../api.js";
import { Table, useAction } from "../components.js";

const nameOf = (c) => (c.Names && c.Names[0] ? c.Names[0].replace(/^\//, "") : c.Id.slice(0, 12));

function CreateForm({ label, onCreate }) {
  const [name, setName] = useState("");
  return html`<form class="inline" onSubmit=${(e) => (e.preventDefault(), onCreate(name.trim()), setName(""))}>
    <input aria-label=${`New ${label} name`} placeholder=${`new ${label} name`} value=${name} onInput=${(e) => setName(e.target.value)} />
    <button type="submit" class="primary">Create ${label}</button>
  </form>`;
}

export function Volumes({ volumes, containers, report }) {
  const [busy, act] = useAction(report);
  const users = (v) => containers.filter((c) => (c.Mounts || []).some((m) => m.Type === "volume" && m.Name === v.Name));
  const columns = [
    { key: "name", label: "Name", value: (v) => v.Name, className: "mono" },
    { key: "driver", label: "Driver", value: (v) => v.Driver },
    { key: "used", label: "Used by", value: (v) => users(v).length, render: (v) => users(v).map(nameOf).join(", ") || "—" },
    { key: "mount", label: "Mountpoint", value: (v) => v.Mountpoint, className: "mono dim" },
    {
      key: "actions",
      label: html`<span class="sr-only">Actions</span>`,
      className: "actions",
      render: (v) => html`<button class="danger" aria-label=${`Remove volume ${v.Name}`} disabled=${busy} onClick=${() => act(() => api.removeVolume(v.Name))}>Remove</button>`,
    },
  ];
  return html`<section aria-labelledby="volumes-title">
    <div class="toolbar">
      <h1 id="volumes-title">Volumes</h1>
      <${CreateForm} label="volume" onCreate=${(n) => act(() => api.createVolume(n))} />
    </div>
    <${Table} label="Volumes" columns=${columns} rows=${volumes} rowKey=${(v) => v.Name} empty="No volumes." />
  </section>`;
}

export function Networks({ networks, containers, report }) {
  const [busy, act] = useAction(report);
  const users = (n) =>
    containers.filter((c) => Object.values((c.NetworkSettings || {}).Networks || {}).some((e) => e.NetworkID === n.Id));
  const builtin = (n) => ["bridge", "host", "none"].includes(n.Name);
  const columns = [
    { key: "name", label: "Name", value: (n) => n.Name, className: "strong" },
    { key: "driver", label: "Driver", value: (n) => n.Driver },
    { key: "subnet", label: "Subnet", value: (n) => ((n.IPAM || {}).Config || []).map((c) => c.Subnet).join(", "), className: "mono" },
    { key: "used", label: "Used by", value: (n) => users(n).length, render: (n) => users(n).map(nameOf).join(", ") || "—" },
    {
      key: "actions",
      label: html`<span class="sr-only">Actions</span>`,
      className: "actions",
      render: (n) =>
        builtin(n)
          ? null
          : html`<button class="danger" aria-label=${`Remove network ${n.Name}`} disabled=${busy} onClick=${() => act(() => api.removeNetwork(n.Id))}>Remove</button>`,
    },
  ];
  return html`<section aria-labelledby="networks-title">
    <div class="toolbar">
      <h1 id="networks-title">Networks</h1>
      <${CreateForm} label="network" onCreate=${(n) => act(() => api.createNetwork(n))} />
    </div>
    <${Table} label="Networks" columns=${columns} rows=${networks} rowKey=${(n) => n.Id} empty="No networks." />
  </section>`;
}

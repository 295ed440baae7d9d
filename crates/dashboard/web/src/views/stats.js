// Live resource use, from the stats stream (a sample a second): the numbers `docker stats`
// prints, computed as it computes them, and small charts of the last minute.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { followStats } from "../api.js";
import { size } from "../format.js";

const HISTORY = 60;

export function cpuPercent(s) {
  const cpu = s.cpu_stats || {};
  const pre = s.precpu_stats || {};
  const cpuDelta = ((cpu.cpu_usage || {}).total_usage || 0) - ((pre.cpu_usage || {}).total_usage || 0);
  const sysDelta = (cpu.system_cpu_usage || 0) - (pre.system_cpu_usage || 0);
  const online = cpu.online_cpus || ((cpu.cpu_usage || {}).percpu_usage || []).length || 1;
  return sysDelta > 0 && cpuDelta > 0 ? (cpuDelta / sysDelta) * online * 100 : 0;
}

// Usage less the page cache that can be dropped, as the docker CLI shows it.
export function memoryUsage(s) {
  const m = s.memory_stats || {};
  const st = m.stats || {};
  const cache = st.total_inactive_file ?? st.inactive_file ?? 0;
  return Math.max(0, (m.usage || 0) - (cache < (m.usage || 0) ? cache : 0));
}

function network(s) {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(s.networks || {})) {
    rx += n.rx_bytes || 0;
    tx += n.tx_bytes || 0;
  }
  return { rx, tx };
}

function blockIo(s) {
  let read = 0;
  let write = 0;
  for (const e of (s.blkio_stats || {}).io_service_bytes_recursive || []) {
    if (/read/i.test(e.op)) read += e.value;
    if (/write/i.test(e.op)) write += e.value;
  }
  return { read, write };
}

// The latest sample's figures for each of `ids` (running containers), with a minute of history.
export function useStats(ids) {
  const [stats, setStats] = useState({});
  const key = [...ids].sort().join(",");
  useEffect(() => {
    const stops = ids.map((id) =>
      followStats(id, (s) => {
        setStats((all) => {
          const prev = all[id];
          const net = network(s);
          const io = blockIo(s);
          const dt = prev ? Math.max(0.001, (Date.parse(s.read) - Date.parse(prev.read)) / 1000) : 1;
          const sample = {
            read: s.read,
            cpu: cpuPercent(s),
            mem: memoryUsage(s),
            limit: (s.memory_stats || {}).limit || 0,
            pids: (s.pids_stats || {}).current || 0,
            net,
            io,
            rxRate: prev ? Math.max(0, (net.rx - prev.net.rx) / dt) : 0,
            txRate: prev ? Math.max(0, (net.tx - prev.net.tx) / dt) : 0,
          };
          const history = [...((prev && prev.history) || []), sample].slice(-HISTORY);
          return { ...all, [id]: { ...sample, history } };
        });
      }),
    );
    return () => stops.forEach((stop) => stop());
  }, [key]);
  return stats;
}

// A small line chart of `values` (0 at the bottom, the largest at the top).
export function Sparkline({ values, label, max, width = 240, height = 48 }) {
  const top = Math.max(max || 0, ...values, 1e-9);
  const step = width / Math.max(1, HISTORY - 1);
  const x0 = width - (values.length - 1) * step;
  const points = values.map((v, i) => `${(x0 + i * step).toFixed(1)},${(height - (v / top) * (height - 4) - 2).toFixed(1)}`);
  return html`<svg class="spark" viewBox=${`0 0 ${width} ${height}`} width=${width} height=${height} role="img" aria-label=${label}>
    ${values.length > 1 &&
    html`<polygon points=${`${x0},${height} ${points.join(" ")} ${width},${height}`} class="area" />
      <polyline points=${points.join(" ")} class="stroke" />`}
  </svg>`;
}

export function StatsPanel({ id, running }) {
  const stats = useStats(running ? [id] : []);
  const s = stats[id];
  if (!running) return html`<div class="empty">The container is not running: it uses no resources.</div>`;
  if (!s) return html`<div class="empty">Waiting for the first sample…</div>`;
  const h = s.history;
  const card = (title, value, values, max) => html`<div class="card">
    <div class="card-title">${title}</div>
    <div class="card-value">${value}</div>
    <${Sparkline} values=${values} label=${`${title} over the last minute`} max=${max} />
  </div>`;
  return html`<div class="cards" aria-label="Stats">
    ${card("CPU", `${s.cpu.toFixed(2)} %`, h.map((x) => x.cpu), 100)}
    ${card("Memory", `${size(s.mem)}${s.limit ? ` / ${size(s.limit)}` : ""}`, h.map((x) => x.mem))}
    ${card("Network", `↓ ${size(s.rxRate)}/s  ↑ ${size(s.txRate)}/s`, h.map((x) => x.rxRate + x.txRate))}
    ${card("Block I/O", `${size(s.io.read)} read, ${size(s.io.write)} written`, h.map((x) => x.io.read + x.io.write))}
    ${card("Processes", String(s.pids), h.map((x) => x.pids))}
  </div>`;
}

// How values read in the tables, as `docker images` / `docker ps` print them.

export function size(bytes) {
  if (bytes == null || bytes < 0) return "—";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let v = bytes;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function ago(seconds) {
  if (!seconds) return "—";
  const d = Date.now() / 1000 - seconds;
  const steps = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [4.35, "week"],
    [12, "month"],
    [Infinity, "year"],
  ];
  let v = Math.max(0, d);
  for (const [n, unit] of steps) {
    if (v < n) {
      const r = Math.floor(v);
      return r <= 1 && unit === "second" ? "just now" : `${r} ${unit}${r === 1 ? "" : "s"} ago`;
    }
    v /= n;
  }
  return "—";
}

export const shortId = (id) => (id || "").replace(/^sha256:/, "").slice(0, 12);

// "repo:tag" → [repo, tag]; a registry port stays in the repository.
export function splitTag(ref) {
  const at = ref.lastIndexOf(":");
  if (at > ref.lastIndexOf("/")) return [ref.slice(0, at), ref.slice(at + 1)];
  return [ref, "latest"];
}

// The published ports of a container (from /containers/json) as links and text.
export function ports(list) {
  const seen = new Set();
  const out = [];
  for (const p of list || []) {
    if (!p.PublicPort) continue;
    const host = !p.IP || p.IP === "0.0.0.0" || p.IP === "::" ? "127.0.0.1" : p.IP;
    const key = `${host}:${p.PublicPort}/${p.Type}`;
    if (seen.has(key) || p.IP === "::") continue;
    seen.add(key);
    out.push({
      label: `${p.PublicPort}:${p.PrivatePort}${p.Type === "tcp" ? "" : "/" + p.Type}`,
      url: p.Type === "tcp" ? `http://${host.includes(":") ? `[${host}]` : host}:${p.PublicPort}/` : null,
    });
  }
  return out;
}

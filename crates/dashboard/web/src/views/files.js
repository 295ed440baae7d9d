// A container's files: browse its directories (GET /containers/ID/files), download a file
// (taken out of the tar the archive endpoint sends) or a directory as a tar.
import { html } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { send } from "../api.js";
import { size } from "../format.js";

const DIR = 2 ** 31;
const SYMLINK = 2 ** 27;
const q = encodeURIComponent;

const isDir = (e) => e.mode >= DIR;
const isLink = (e) => Math.floor(e.mode / SYMLINK) % 2 === 1;

export function modeString(mode) {
  const kind = mode >= DIR ? "d" : Math.floor(mode / SYMLINK) % 2 ? "l" : "-";
  const bits = mode % 512;
  let out = kind;
  for (let shift = 6; shift >= 0; shift -= 3) {
    const b = (bits >> shift) & 7;
    out += (b & 4 ? "r" : "-") + (b & 2 ? "w" : "-") + (b & 1 ? "x" : "-");
  }
  return out;
}

const join = (dir, name) => (dir.endsWith("/") ? dir : dir + "/") + name;

// The first regular file's contents in a tar (ustar, with PAX or GNU long-name headers
// before it skipped).
export function firstFileInTar(buf) {
  const bytes = new Uint8Array(buf);
  const octal = (off, len) => parseInt(new TextDecoder().decode(bytes.subarray(off, off + len)).replace(/\0.*$/, "").trim() || "0", 8);
  for (let off = 0; off + 512 <= bytes.length; ) {
    if (bytes[off] === 0) break;
    const size = octal(off + 124, 12);
    const type = String.fromCharCode(bytes[off + 156] || 48);
    const body = off + 512;
    if (type === "0" || type === "\0") return bytes.slice(body, body + size);
    off = body + Math.ceil(size / 512) * 512;
  }
  throw new Error("the archive holds no regular file");
}

export function Files({ id, name }) {
  const [path, setPath] = useState("/");
  const [entries, setEntries] = useState(null);
  const [truncated, setTruncated] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    send(`/containers/${q(id)}/files?path=${q(path)}`)
      .then(async (r) => {
        setTruncated(r.headers.get("X-Berth-Truncated") === "true");
        setEntries(await r.json());
      })
      .catch((e) => (setError(e.message), setEntries([])));
  }, [id, path]);
  const download = async (e) => {
    try {
      const r = await send(`/containers/${q(id)}/archive?path=${q(join(path, e.name))}`);
      const body = firstFileInTar(await r.arrayBuffer());
      const a = document.createElement("a");
      a.href = URL.createObjectURL(new Blob([body]));
      a.download = e.name;
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (err) {
      setError(err.message);
    }
  };
  const parts = path.split("/").filter(Boolean);
  const crumbs = [["/", "/"], ...parts.map((p, i) => [p, "/" + parts.slice(0, i + 1).join("/")])];
  const tarName = `${name}${path === "/" ? "" : "-" + parts.join("-")}.tar`;
  return html`<div class="files-view">
    <div class="toolbar small">
      <nav aria-label="Path" class="crumbs">
        ${crumbs.map(
          ([label, to], i) => html`${i > 1 ? html`<span class="sep">/</span>` : ""}<button
              class="crumb"
              aria-current=${to === path ? "location" : undefined}
              onClick=${() => setPath(to)}
            >
              ${label}
            </button>`,
        )}
      </nav>
      <a class="button" href=${`/api/containers/${q(id)}/archive?path=${q(path)}`} download=${tarName}>Download folder (.tar)</a>
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${truncated && html`<p class="hint">Only the first entries are shown.</p>`}
    ${entries &&
    (entries.length
      ? html`<table aria-label="Files" class="compact">
          <thead><tr><th scope="col">Name</th><th scope="col" class="num">Size</th><th scope="col">Modified</th><th scope="col">Mode</th></tr></thead>
          <tbody>
            ${path !== "/" &&
            html`<tr><td colspan="4"><button class="link" onClick=${() => setPath("/" + parts.slice(0, -1).join("/"))}>..</button></td></tr>`}
            ${entries.map(
              (e) => html`<tr key=${e.name}>
                <td class="mono">
                  ${isDir(e)
                    ? html`<button class="link" aria-label=${`Open folder ${e.name}`} onClick=${() => setPath(join(path, e.name))}>${e.name}/</button>`
                    : isLink(e)
                      ? html`<span>${e.name} → ${e.linkTarget}</span>`
                      : html`<button class="link" aria-label=${`Download ${e.name}`} onClick=${() => download(e)}>${e.name}</button>`}
                </td>
                <td class="num">${isDir(e) ? "—" : size(e.size)}</td>
                <td>${e.mtime.replace("T", " ").replace("Z", "")}</td>
                <td class="mono dim">${modeString(e.mode)}</td>
              </tr>`,
            )}
          </tbody>
        </table>`
      : html`<div class="empty">This folder is empty.</div>`)}
  </div>`;
}

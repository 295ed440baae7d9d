// Pull and push with live progress, a row per layer as Docker's progress stream reports it
// ("Downloading 3.1 MB / 12 MB", "Pull complete", "Pushed"), and the Tag dialog.
import { html } from "htm/preact";
import { useState } from "preact/hooks";
import { api, pullImage, pushImage } from "../api.js";
import { Dialog } from "../components.js";
import { size } from "../format.js";

function Progress({ layers, notes, error, done }) {
  return html`<div class="progress" aria-label="Progress" aria-live="polite">
    ${layers.map(
      (l) => html`<div class="layer" key=${l.id}>
        <span class="mono">${l.id}</span>
        <span class="status">${l.status}</span>
        ${l.total
          ? html`<progress max=${l.total} value=${l.current || 0} aria-label=${`${l.id} ${l.status}`}></progress>
              <span class="dim mono">${size(l.current || 0)} / ${size(l.total)}</span>`
          : html`<span></span><span></span>`}
      </div>`,
    )}
    ${notes.map((n, i) => html`<div class="note" key=${i}>${n}</div>`)}
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${done && !error && html`<p class="ok" role="status">Done.</p>`}
  </div>`;
}

// verb: "pull" | "push"; initial: the reference to start with.
export function TransferDialog({ verb, initial, onClose }) {
  const [ref, setRef] = useState(initial || "");
  const [auth, setAuth] = useState({ username: "", password: "" });
  const [running, setRunning] = useState(false);
  const [layers, setLayers] = useState([]);
  const [notes, setNotes] = useState([]);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(false);
  const start = async (e) => {
    e.preventDefault();
    if (!ref.trim()) return setError("name the image, as REPOSITORY[:TAG]");
    setRunning(true);
    setDone(false);
    setError(null);
    setLayers([]);
    setNotes([]);
    const byId = new Map();
    const note = [];
    const onLine = (m) => {
      if (m.error || m.errorDetail) {
        setError((m.errorDetail && m.errorDetail.message) || m.error);
        return;
      }
      if (m.id && m.status && !/^(Pulling from|The push refers to)/.test(m.status) && !m.status.includes("digest:")) {
        const d = m.progressDetail || {};
        byId.set(m.id, { id: m.id, status: m.status, current: d.current, total: d.total });
        setLayers([...byId.values()]);
      } else if (m.status) {
        note.push(m.id ? `${m.id}: ${m.status}` : m.status);
        setNotes([...note]);
      }
    };
    try {
      await (verb === "pull" ? pullImage : pushImage)(ref.trim(), auth, onLine);
      setDone(true);
    } catch (err) {
      setError(err.message);
    } finally {
      setRunning(false);
    }
  };
  const title = verb === "pull" ? "Pull an image" : `Push ${initial}`;
  return html`<${Dialog} title=${title} onClose=${onClose}>
    <form class="form" onSubmit=${start}>
      ${verb === "pull" &&
      html`<label
        >Image <span class="hint">REGISTRY/REPOSITORY[:TAG]</span>
        <input class="mono" value=${ref} onInput=${(e) => setRef(e.target.value)} placeholder="localhost:5000/team/app:1" />
      </label>`}
      <details>
        <summary>Registry credentials (if it needs them)</summary>
        <label>User name <input autocomplete="username" value=${auth.username} onInput=${(e) => setAuth({ ...auth, username: e.target.value })} /></label>
        <label>Password <input type="password" autocomplete="current-password" value=${auth.password} onInput=${(e) => setAuth({ ...auth, password: e.target.value })} /></label>
      </details>
      <${Progress} layers=${layers} notes=${notes} error=${error} done=${done} />
      <div class="buttons">
        <button type="button" onClick=${onClose}>Close</button>
        <button type="submit" class="primary" disabled=${running}>${running ? (verb === "pull" ? "Pulling…" : "Pushing…") : verb === "pull" ? "Pull" : "Push"}</button>
      </div>
    </form>
  <//>`;
}

export function TagDialog({ source, onClose }) {
  const [target, setTarget] = useState("");
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const t = target.trim();
    const at = t.lastIndexOf(":");
    const [repo, tag] = at > t.lastIndexOf("/") ? [t.slice(0, at), t.slice(at + 1)] : [t, "latest"];
    if (!repo) return setError("name the new tag, as REPOSITORY[:TAG]");
    try {
      await api.tagImage(source, repo, tag);
      onClose();
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<${Dialog} title=${`Tag ${source}`} onClose=${onClose}>
    <form class="form" onSubmit=${submit}>
      <label>New tag <span class="hint">REPOSITORY[:TAG]</span>
        <input class="mono" value=${target} onInput=${(e) => setTarget(e.target.value)} placeholder="localhost:5000/team/app:1" />
      </label>
      ${error && html`<p class="error" role="alert">${error}</p>`}
      <div class="buttons">
        <button type="button" onClick=${onClose}>Cancel</button>
        <button type="submit" class="primary">Tag</button>
      </div>
    </form>
  <//>`;
}

// Compose projects (from their containers' Compose labels): each with its services'
// containers, and up / stop / start / restart / down run by the engine from the project's
// own files (POST /compose/projects/NAME/VERB).
import { html } from "htm/preact";
import { api } from "../api.js";
import { useAction } from "../components.js";
import { ports } from "../format.js";

const PROJECT = "com.docker.compose.project";
const SERVICE = "com.docker.compose.service";

export function Compose({ projects, containers, report }) {
  const [busy, act] = useAction(report);
  return html`<section aria-labelledby="compose-title">
    <div class="toolbar">
      <h1 id="compose-title">Compose</h1>
      <span class="count">${projects.length} project${projects.length === 1 ? "" : "s"}</span>
    </div>
    ${!projects.length &&
    html`<div class="empty">No Compose projects. Start one with <code>berth compose up -d</code> in its directory.</div>`}
    ${projects.map((p) => {
      const mine = containers.filter((c) => (c.Labels || {})[PROJECT] === p.Name);
      const running = mine.some((c) => c.State === "running");
      const verb = (v, label, cls = "") =>
        html`<button class=${cls} aria-label=${`${label} project ${p.Name}`} disabled=${busy} onClick=${() => act(() => api.composeAction(p.Name, v))}>${label}</button>`;
      return html`<article class="project" aria-label=${`Project ${p.Name}`} key=${p.Name}>
        <header>
          <h2>${p.Name}</h2>
          <span class="count">${p.Status}</span>
          <span class="count mono dim">${p.ConfigFiles}</span>
          <span class="actions">
            ${running ? html`${verb("stop", "Stop")}${verb("restart", "Restart")}` : verb("start", "Start")}
            ${verb("up", "Up", "primary")}
            ${verb("down", "Down", "danger")}
          </span>
        </header>
        <table class="compact" aria-label=${`Containers of ${p.Name}`}>
          <thead><tr><th scope="col">Service</th><th scope="col">Container</th><th scope="col">Status</th><th scope="col">Ports</th></tr></thead>
          <tbody>
            ${mine.map(
              (c) => html`<tr key=${c.Id}>
                <td class="strong">${(c.Labels || {})[SERVICE]}</td>
                <td>${c.Names[0].replace(/^\//, "")}</td>
                <td><span class=${`badge ${c.State}`}>${c.State}</span> <span class="sub">${c.Status}</span></td>
                <td>${ports(c.Ports).map((pt) => (pt.url ? html`<a class="port" href=${pt.url} target="_blank" rel="noopener noreferrer">${pt.label} ↗</a>` : html`<span class="port">${pt.label}</span>`))}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </article>`;
    })}
  </section>`;
}

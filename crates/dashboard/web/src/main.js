// The dashboard's shell: the side bar, the views, the error banner, and the data every view
// reads, loaded once and reloaded when the event stream says something changed (one reload
// per burst of events, never a polling loop).
import { html, render } from "htm/preact";
import { useEffect, useState } from "preact/hooks";
import { api, followEvents } from "./api.js";
import { ContainerPage, Containers } from "./views/containers.js";
import { Builds } from "./views/builds.js";
import { Compose } from "./views/compose.js";
import { Images } from "./views/images.js";
import { Networks, Volumes } from "./views/volumes_networks.js";
import "./style.css";

const VIEWS = [
  ["containers", "Containers"],
  ["compose", "Compose"],
  ["images", "Images"],
  ["builds", "Builds"],
  ["volumes", "Volumes"],
  ["networks", "Networks"],
];

// The location is the view: /images, /containers, /containers/ID.
function route() {
  const [, view = "containers", id] = location.pathname.split("/");
  return { view: VIEWS.some(([v]) => v === view) ? view : "containers", id: id || null };
}

// What an engine event means to a person, for the notifications (Docker's event fields);
// null for what is not worth saying (exec, attach, health probes, mounts…).
function describe(e) {
  const a = (e.Actor && e.Actor.Attributes) || {};
  const name = a.name || (e.Actor && e.Actor.ID ? e.Actor.ID.slice(0, 12) : "");
  const action = e.Action || e.status || "";
  if (e.Type === "container") {
    const said = {
      create: "created",
      start: "started",
      pause: "paused",
      unpause: "resumed",
      destroy: "removed",
      rename: "renamed",
    }[action];
    if (said) return `Container ${name} ${said}`;
    if (action === "die") return `Container ${name} exited (code ${a.exitCode ?? "?"})`;
    if (action === "oom") return `Container ${name} ran out of memory`;
    return null;
  }
  if (e.Type === "image") {
    const said = { pull: "pulled", push: "pushed", tag: "tagged", untag: "untagged", delete: "removed", load: "loaded" }[action];
    return said ? `Image ${name} ${said}` : null;
  }
  if (e.Type === "volume" || e.Type === "network") {
    const said = { create: "created", destroy: "removed" }[action];
    return said ? `${e.Type === "volume" ? "Volume" : "Network"} ${name} ${said}` : null;
  }
  return null;
}

function useData(announce) {
  const [data, setData] = useState({ images: [], containers: [], volumes: [], networks: [], projects: [], builds: [], loaded: false });
  const [live, setLive] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    let timer = null;
    const load = async () => {
      try {
        const [images, containers, volumes, networks, projects, builds] = await Promise.all([
          api.images(),
          api.containers(),
          api.volumes(),
          api.networks(),
          api.projects(),
          api.builds(),
        ]);
        setData({ images, containers, volumes: volumes.Volumes || [], networks, projects, builds, loaded: true });
      } catch (e) {
        setError(e.status === 401 ? "The dashboard's token is missing: open the URL `berth serve --dashboard` printed." : e.message);
      }
    };
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(load, 100);
    };
    load();
    const onEvent = (e) => {
      soon();
      const text = describe(e);
      if (text) announce(text);
    };
    const stop = followEvents(onEvent, (ok) => (setLive(ok), ok && soon()));
    return () => (stop(), clearTimeout(timer));
  }, []);
  return [data, live, error, setError];
}

// The last few notifications, shown a moment and read out by screen readers (a polite live
// region, as the engine's events come).
function useNotices() {
  const [notices, setNotices] = useState([]);
  const announce = (text) => {
    const id = Math.random();
    setNotices((n) => [...n.slice(-2), { id, text }]);
    setTimeout(() => setNotices((n) => n.filter((x) => x.id !== id)), 5000);
  };
  return [notices, announce];
}

function App() {
  const [where, setWhere] = useState(route());
  const [notices, announce] = useNotices();
  const [data, live, error, setError] = useData(announce);
  useEffect(() => {
    const onPop = () => setWhere(route());
    addEventListener("popstate", onPop);
    return () => removeEventListener("popstate", onPop);
  }, []);
  const go = (view, id) => {
    const path = id ? `/${view}/${id}` : `/${view}`;
    if (location.pathname !== path) history.pushState(null, "", path);
    setWhere({ view, id: id || null });
  };
  const report = (message) => setError(message);
  let page;
  if (!data.loaded && !error) page = html`<p class="empty">Loading…</p>`;
  else if (where.view === "containers" && where.id)
    page = html`<${ContainerPage} id=${where.id} containers=${data.containers} report=${report} onBack=${() => go("containers")} />`;
  else if (where.view === "containers")
    page = html`<${Containers} containers=${data.containers} report=${report} onOpen=${(id) => go("containers", id.slice(0, 12))} />`;
  else if (where.view === "images")
    page = html`<${Images} images=${data.images} report=${report} onRan=${(id) => go("containers", id.slice(0, 12))} />`;
  else if (where.view === "builds") page = html`<${Builds} builds=${data.builds} />`;
  else if (where.view === "compose")
    page = html`<${Compose} projects=${data.projects} containers=${data.containers} report=${report} />`;
  else if (where.view === "volumes") page = html`<${Volumes} volumes=${data.volumes} containers=${data.containers} report=${report} />`;
  else page = html`<${Networks} networks=${data.networks} containers=${data.containers} report=${report} />`;
  const counts = {
    containers: data.containers.length,
    images: data.images.length,
    volumes: data.volumes.length,
    networks: data.networks.length,
    compose: data.projects.length,
    builds: data.builds.length,
  };
  return html`<div class="shell">
    <nav aria-label="Views">
      <div class="brand"><span class="logo" aria-hidden="true">⚓</span> berth</div>
      ${VIEWS.map(
        ([v, label]) => html`<a
          href=${`/${v}`}
          aria-current=${where.view === v ? "page" : undefined}
          onClick=${(e) => (e.preventDefault(), go(v))}
          >${label}<span class="n">${counts[v]}</span></a
        >`,
      )}
      <div class="live" title=${live ? "Following the engine's events" : "Not connected to the event stream"}>
        <span class=${`dot ${live ? "on" : ""}`} aria-hidden="true"></span>${live ? "Live" : "Offline"}
      </div>
    </nav>
    <main>
      ${error &&
      html`<div class="banner" role="alert">
        <span>${error}</span><button class="icon" aria-label="Dismiss" onClick=${() => setError(null)}>×</button>
      </div>`}
      ${page}
    </main>
    <div class="notices" role="status" aria-live="polite" aria-label="Notifications">
      ${notices.map((n) => html`<div class="notice" key=${n.id}>${n.text}</div>`)}
    </div>
  </div>`;
}

render(html`<${App} />`, document.getElementById("app"));

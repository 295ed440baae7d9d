// A terminal into a running container: an exec with a pty (bash where the image has it,
// else sh), relayed over a WebSocket (/exec/ID/start/ws) into xterm.js; the page's size
// follows the panel's. xterm.js is loaded with the first terminal, not with the page.
import { html } from "htm/preact";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, post } from "../api.js";

export function Terminal({ id }) {
  const box = useRef();
  const [state, setState] = useState("connecting");
  useEffect(() => {
    let dispose = null;
    let cancelled = false;
    Promise.all([import("@xterm/xterm"), import("@xterm/addon-fit"), import("@xterm/xterm/css/xterm.css")]).then(
      ([{ Terminal: XTerm }, { FitAddon }]) => {
        if (!cancelled) dispose = open(XTerm, FitAddon);
      },
      (e) => setState(`closed: ${e.message}`),
    );
    return () => {
      cancelled = true;
      dispose && dispose();
    };
  }, [id]);
  const open = (XTerm, FitAddon) => {
    const term = new XTerm({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, monospace',
      fontSize: 13,
      theme: { background: "#0b0f17" },
    });
    const fit = new FitAddon();
    term.loadAddon(fit);
    term.open(box.current);
    fit.fit();
    let ws = null;
    let execId = null;
    let closed = false;
    const enc = new TextEncoder();
    const resize = () => {
      fit.fit();
      if (execId) post(`/exec/${execId}/resize?h=${term.rows}&w=${term.cols}`).catch(() => {});
    };
    const observer = new ResizeObserver(resize);
    observer.observe(box.current);
    (async () => {
      try {
        const exec = await api.exec(id, {
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
          Tty: true,
          Env: ["TERM=xterm-256color"],
          Cmd: ["/bin/sh", "-c", "if command -v bash >/dev/null; then exec bash; else exec sh; fi"],
        });
        if (closed) return;
        execId = exec.Id;
        ws = new WebSocket(`ws://${location.host}/api/exec/${execId}/start/ws?h=${term.rows}&w=${term.cols}`);
        ws.binaryType = "arraybuffer";
        ws.onopen = () => (setState("open"), term.focus());
        ws.onmessage = (m) => term.write(typeof m.data === "string" ? m.data : new Uint8Array(m.data));
        ws.onclose = () => {
          setState("closed");
          term.write("\r\n\x1b[2m[the shell has ended]\x1b[0m\r\n");
        };
        term.onData((d) => ws.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
      } catch (e) {
        setState("closed");
        term.write(`\x1b[31m${e.message}\x1b[0m\r\n`);
      }
    })();
    return () => {
      closed = true;
      observer.disconnect();
      ws && ws.close();
      term.dispose();
    };
  };
  return html`<div class="terminal-view">
    <div class="toolbar small"><span class="count">${state === "open" ? "Connected" : state === "connecting" ? "Connecting…" : "Disconnected"}</span></div>
    <div class="terminal" ref=${box} aria-label="Terminal"></div>
  </div>`;
}

// The dashboard's build (crates/dashboard/build.rs runs it with --outDir in cargo's OUT_DIR).
// `npm run dev` serves it with live reload and sends /api to a `berth serve --dashboard` on
// BERTH_DASHBOARD (default http://127.0.0.1:2380); open that server's printed URL once first,
// so the browser has its cookie.
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { target: "es2022", sourcemap: false, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: {
      "/api": {
        target: process.env.BERTH_DASHBOARD || "http://127.0.0.1:2380",
        changeOrigin: true,
        ws: true,
      },
    },
  },
});

// Vite builds the console into api/static/console/, which api/console.py serves at /console/.
// Relative asset URLs (base "./") so the page works under /console/ without knowing its mount point.
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "./",
  plugins: [vue()],
  define: {
    // vue-i18n: no legacy API, no devtools hooks in the production bundle.
    __VUE_I18N_FULL_INSTALL__: false,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: fileURLToPath(new URL("../static/console", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 400,
  },
  server: {
    // `npx vite` in api/console proxies the API of a local `make run`.
    proxy: { "/api": "http://127.0.0.1:8000", "/socket.io": { target: "http://127.0.0.1:8000", ws: true } },
  },
  test: {
    environment: "jsdom",
    include: ["tests/**/*.test.ts"],
  },
});

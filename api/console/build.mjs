// Build the agent console: copy the sources and the one vendored library into api/static/console/,
// which the API serves at /console/, and Swagger UI's assets into api/static/swagger-ui/ for /api-docs.
// No bundler and no CDN: the browser loads these files as they are, from the API itself.
//
//   npm ci --prefix api/console && npm run build --prefix api/console
import { copyFile, mkdir, rm, access } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "static", "console");
const vendorSrc = join(here, "node_modules", "socket.io-client", "dist");

const sources = ["app.js", "app.css", "index.html"]; // index.html last: its presence means "built"
const vendored = ["socket.io.min.js", "socket.io.min.js.map"];

try {
  await access(join(vendorSrc, "socket.io.min.js"));
} catch {
  console.error("socket.io-client is not installed: run `npm ci --prefix api/console` first");
  process.exit(1);
}

await rm(out, { recursive: true, force: true }); // no stale files from an earlier build
await mkdir(join(out, "vendor"), { recursive: true });
for (const name of vendored) await copyFile(join(vendorSrc, name), join(out, "vendor", name));
for (const name of sources) await copyFile(join(here, name), join(out, name));

const swaggerSrc = join(here, "node_modules", "swagger-ui-dist");
const swaggerOut = join(here, "..", "static", "swagger-ui");
await rm(swaggerOut, { recursive: true, force: true });
await mkdir(swaggerOut, { recursive: true });
for (const name of ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"]) {
  await copyFile(join(swaggerSrc, name), join(swaggerOut, name));
}
console.log(`console built into ${out}, Swagger UI assets into ${swaggerOut}`);

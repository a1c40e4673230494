// Swagger UI's assets for /api-docs, copied from npm into api/static/swagger-ui/ (no CDN at run time).
import { copyFile, mkdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const src = join(here, "node_modules", "swagger-ui-dist");
const out = join(here, "..", "static", "swagger-ui");
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });
for (const name of ["swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css", "favicon-32x32.png"]) {
  await copyFile(join(src, name), join(out, name));
}
console.log(`Swagger UI assets copied into ${out}`);

import { buildImage } from "../../fixtures/host/image.ts";

// Builds (or reuses) the reference image once before any test that boots a host.
export default async function setup() {
  if (process.env.DDV_SKIP_E2E === "1") return;
  const t0 = Date.now();
  const img = await buildImage((l) => process.stderr.write(`[image] ${l}\n`));
  process.stderr.write(`[image] ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${img.built.length ? `built ${img.built.join(", ")}` : "reused"})\n`);
}

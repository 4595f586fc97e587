import { expect, test } from "vitest";
import { loadFlavour } from "../../fixtures/flavours/flavour.ts";
import { REPO_ROOT } from "../../fixtures/host/paths.ts";
import { describeE2E } from "./e2e.ts";
import { hostCli, validateInside } from "./hosts.ts";

// Issue 20's "done when": on each deployment shape, `npm run discover` then the validator gives the same verdict for
// every check as the config written by hand for that shape (the tutorial's and the tls host's /etc/ddv/config.json;
// zero config for the others), with no hand edit.
const SHAPES = await Promise.all(
  ["reference", "as-shipped", "pm-socket", "tutorial", "asgi", "remote-db", "tls"].map(async (f) => ({ flavour: f, env: (await loadFlavour(f)).runWith })),
);

// Where discover writes inside the host (outside the checkout, so hosts side by side never share it).
const OUTPUT = "/tmp/discovered.config.json";

// Each check's verdict, by ID.
const verdicts = (rows: Array<{ id: string; status: string }>) => Object.fromEntries(rows.map((r) => [r.id, r.status]));

describeE2E("discover writes the config a shape needs", () => {
  test.concurrent.each(SHAPES)("$flavour: discovered config gives the hand-written config's verdicts", { timeout: 900_000 }, async (shape) => {
    const host = `e2e-disc-${shape.flavour}`;
    const up = await hostCli(["up", "--flavour", shape.flavour, "--name", host]);
    expect(up.exitCode, up.stderr).toBe(0);
    try {
      const found = await hostCli(["exec", host, "--", "sh", "-c", `cd "$0" && node_modules/.bin/tsx scripts/discover.ts --output ${OUTPUT}`, REPO_ROOT]);
      expect(found.exitCode, `${found.stdout}\n${found.stderr}`).toBe(0);
      expect(found.stdout).toContain(`wrote ${OUTPUT}`);
      const hand = await validateInside(host, [], `disc-${shape.flavour}-hand`, shape.env);
      // The private CA is not discoverable: the operator's NODE_EXTRA_CA_CERTS stays.
      const disc = await validateInside(host, [], `disc-${shape.flavour}-discovered`, { ...shape.env, DEPLOY_CONFIG: OUTPUT });
      expect(verdicts(disc.results), `discovered:\n${found.stdout}`).toEqual(verdicts(hand.results));
      expect(disc.exitCode).toBe(hand.exitCode);
      // A second run without --force refuses to replace the file it wrote only when it would change it.
      const again = await hostCli(["exec", host, "--", "sh", "-c", `cd "$0" && node_modules/.bin/tsx scripts/discover.ts --output ${OUTPUT}`, REPO_ROOT]);
      expect(again.exitCode, again.stderr).toBe(0);
      expect(again.stdout).toContain(`unchanged: ${OUTPUT}`);
    } finally {
      await hostCli(["down", host]);
    }
  });
});

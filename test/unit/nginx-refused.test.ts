import { expect, test } from "vitest";
import { catalogue } from "../../src/checks/index.ts";
import { replayContext, replayTransport } from "./replay.ts";

// Held-out fault: the site unlinked from sites-enabled, nginx reloaded. Every request to nginx's URL is refused, and
// the advice must point at the missing site, not at proxy_pass. Port 9 (discard) is closed here, as port 80 was there.
const dump = (listen: string) => ({
  stdout: `# configuration file /etc/nginx/nginx.conf:\nevents {}\nhttp {\n  server {\n    listen ${listen};\n    server_name other;\n  }\n}\n`,
});
const http010 = catalogue.find((c) => c.id === "HTTP-010")!;

test("nginx refusing its URL with no server block on that port: HTTP-010 names the unlinked site", async () => {
  const ctx = replayContext(replayTransport({ "nginx -T": dump("8080") }), { nginxUrl: "http://127.0.0.1:9" });
  const v = await http010.run(ctx);
  expect(v.pass).toBe(false);
  expect(v.observed).toContain("ECONNREFUSED; nginx -T shows no server block listening on port 9: is the site linked into /etc/nginx/sites-enabled/?");
});

test("a server block on that port: no such hint (something else refuses)", async () => {
  const ctx = replayContext(replayTransport({ "nginx -T": dump("9") }), { nginxUrl: "http://127.0.0.1:9" });
  const v = await http010.run(ctx);
  expect(v.pass).toBe(false);
  expect(v.observed).not.toContain("sites-enabled");
});

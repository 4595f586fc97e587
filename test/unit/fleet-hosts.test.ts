import { expect, test } from "vitest";
import { parseHostList } from "../../src/fleet/hosts.ts";

test("names, users, ports and IPv6 addresses", () => {
  expect(parseHostList("web1, deploy@web2:2222,[fd00::5],10.0.0.7:22")).toEqual([
    { host: "web1" },
    { host: "web2", user: "deploy", port: 2222 },
    { host: "fd00::5" },
    { host: "10.0.0.7", port: 22 },
  ]);
});

test("bad input gets one message quoting the entry", () => {
  expect(() => parseHostList(" , ")).toThrow(/names no host \(received " , "\)/);
  expect(() => parseHostList("web1,web 2")).toThrow(/entry "web 2" is not \[user@\]host\[:port\]/);
  expect(() => parseHostList("web1:99999")).toThrow(/entry "web1:99999"/);
  expect(() => parseHostList("web1;rm -rf /")).toThrow(/entry "web1;rm -rf \/"/);
  expect(() => parseHostList("-oProxyCommand=x")).toThrow(/entry "-oProxyCommand=x"/);
  expect(() => parseHostList("web1,web1")).toThrow(/names "web1" twice/);
});

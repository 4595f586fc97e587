import { describe, expect, test } from "vitest";
import { parseLocalAddresses } from "../../src/probes/database-here.ts";

// This machine's addresses as the kernel lists them (recorded from a reference host with the remote-db flavour).
const FIB = `Main:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.77.0.0/24 2 0 2
        +-- 10.77.0.0/30 2 0 2
           |-- 10.77.0.0
              /24 link UNICAST
           |-- 10.77.0.1
              /32 host LOCAL
        |-- 10.77.0.255
           /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
`;
const V6 = `00000000000000000000000000000001 01 80 10 80       lo
fd000000000000000000000000000002 04 40 00 82     eth0
`;

describe("this machine's addresses", () => {
  test("IPv4 LOCAL /32 entries and every IPv6 address; a database server's address elsewhere is not among them", () => {
    const mine = parseLocalAddresses(FIB, V6);
    expect([...mine].sort()).toEqual(["0:0:0:0:0:0:0:1", "10.77.0.1", "127.0.0.1", "fd00:0:0:0:0:0:0:2"]);
    expect(mine.has("10.77.0.2")).toBe(false);
    expect(mine.has("10.77.0.255")).toBe(false);
  });
});

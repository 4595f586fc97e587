import { tmpdir } from "node:os";
import { createLocalTransport } from "./local.ts";
import { createSshTransport, type SshTarget } from "./ssh.ts";
import type { Transport } from "./types.ts";

// The one place a host's transport is chosen: ssh when the host is reached over ssh (`sshDir` holds its control
// sockets), else this machine.
export function openTransport(ssh: SshTarget | undefined, timeoutMs: number, sshDir = tmpdir()): Transport {
  return ssh ? createSshTransport(ssh, timeoutMs, sshDir) : createLocalTransport(timeoutMs);
}

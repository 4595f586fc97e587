// Result of one command on the target; a non-zero exit is data, not an exception.
// `truncated`: the output passed the transport's cap (RunOptions.maxOutputBytes) and what follows it was dropped.
export type CommandResult = { exitCode: number; stdout: string; stderr: string; durationMs: number; truncated?: boolean };

export type RunOptions = { timeoutMs?: number; cwd?: string; env?: Record<string, string>; input?: string; maxOutputBytes?: number };

export type FileStat = { mode: number; uid: number; gid: number; isDirectory: boolean; isFile: boolean; size: number };

// How the validator reaches a host: `kind` says which, and only an ssh transport has a connection of its own to
// forward through and to end. Every call has a timeout (the transport's default): a hung command or NFS mount
// rejects with code ETIMEDOUT.
export type Transport = LocalTransport | SshTransport;

// Commands and files on this machine.
export interface LocalTransport extends TransportCalls {
  readonly kind: "local";
}

// Commands and files on another host, over one ssh master connection.
export interface SshTransport extends TransportCalls {
  readonly kind: "ssh";
  // A local unix socket that reaches `remote` ("127.0.0.1:8000" or a unix socket path) as the host itself would,
  // through the transport's own connection. `name` is the socket's file name.
  forward(remote: string, name?: string): Promise<string>;
  // Why the connection is gone (asked when a forwarded socket refuses: the master may have died a moment ago), or
  // undefined while it still answers.
  lostConnection(): Promise<TransportError | undefined>;
  // Ends the connection itself, at the end of the run (close() keeps it for the next file).
  dispose(): void;
  // For the benchmark: round trips so far (ssh sessions opened, plus each time a request went out with none in
  // flight: requests sent together share one wait), and the requests themselves.
  readonly roundTrips: number;
  readonly requests: number;
}

// What every transport does, local or remote.
export interface TransportCalls {
  readonly name: string;
  // Runs argv (never a shell string); throws TransportError on timeout or when the command cannot be started.
  run(argv: string[], opts?: RunOptions): Promise<CommandResult>;
  // Reads a file; throws TransportError with the errno code (ENOENT, EACCES, ETIMEDOUT) when it cannot.
  readFile(path: string): Promise<string>;
  // Stats a path (following symlinks); resolves undefined when it does not exist.
  stat(path: string): Promise<FileStat | undefined>;
  // Lists a directory's entry names; throws TransportError when it cannot.
  readDir(path: string): Promise<string[]>;
  // Target of a symlink (e.g. /proc/<pid>/fd/<n>), or undefined when it cannot be read.
  readLink(path: string): Promise<string | undefined>;
  // Takes an exclusive flock on `path` on the host, held until release (or until we or our connection end); `owner`
  // is written into the file for whoever finds it busy.
  lock?(path: string, owner: string): Promise<HeldLock>;
  // Stops every command still running (a check whose answer was dropped), at the end of a session.
  close(): void;
}

// We could not look: timeout, missing binary, permission, lost connection. Checks report it as an error, never a pass.
export class TransportError extends Error {
  override name = "TransportError";
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

// An exclusive lock held on the target host by a process of its own (flock): released when `release` is called or
// when this process or its connection ends, however it ends. `busy`: who holds it (the owner text they wrote).
export type HeldLock = { held: true; release(): Promise<void> } | { held: false; busy: string };

// Quoting for the remote side of ssh, which hands one string to the user's POSIX login shell.

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

// One argument as the shell reads it back unchanged: left bare when it holds no special character, otherwise
// single-quoted with each ' written as '"'"' (what Python's shlex.quote does).
export function quoteArg(arg: string): string {
  if (arg === "") return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'"'"'`)}'`;
}

// An argv as one command line for the remote shell; a NUL cannot travel in an argument, so it is refused.
export function quoteArgv(argv: readonly string[]): string {
  const nul = argv.find((a) => a.includes("\0"));
  if (nul !== undefined) throw new Error(`an argument holds a NUL byte, which no shell can pass on: ${JSON.stringify(nul.slice(0, 40))}`);
  return argv.map(quoteArg).join(" ");
}

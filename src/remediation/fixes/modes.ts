// Pure owner/mode arithmetic for the files fixes: what one path must become so that an identity may r/w/x it,
// changing as little as possible. No I/O here, so every rule is unit-tested.

export type Want = "r" | "w" | "x";
// What the path is now (or will be, after earlier planned changes): mode includes the special bits (07777).
export type Inode = { mode: number; uid: number; gid: number; isDirectory: boolean };
// The identity the check judges with: a uid and every gid it holds.
export type Who = { uid: number; gids: number[] };
// Who takes the path when neither its owner nor its group is the identity's: `owner` set gives the user the
// path (log dirs, STATIC_ROOT: the app writes there); otherwise only the group changes (code stays its owner's).
export type Fallback = { uid: number; gid: number; takeOwner: boolean };

const BIT: Record<Want, number> = { r: 4, w: 2, x: 1 };

// The permission bits (0-7) a request needs: a directory is granted r and x together (listing without entering
// is useless, and 750/755 is what a directory the app uses looks like); writing to one needs entering it too.
export function neededBits(want: Want, isDirectory: boolean): number {
  if (!isDirectory) return BIT[want];
  return want === "w" ? 7 : 5;
}

// Whether `who` may `want` this inode by mode bits (root may do anything but execute a file with no x bit);
// the same rule as probes/files.ts allowed(), on the planned state.
export function permits(n: Inode, who: Who, want: Want): boolean {
  const bit = BIT[want];
  if (who.uid === 0) return want !== "x" || n.isDirectory || (n.mode & 0o111) !== 0;
  if (n.uid === who.uid) return ((n.mode >> 6) & bit) !== 0;
  if (who.gids.includes(n.gid)) return ((n.mode >> 3) & bit) !== 0;
  return (n.mode & bit) !== 0;
}

// The smallest change that lets `who` `want` the inode: add the bits to the class that applies to `who` (owner if
// it owns it, else group if it holds the group); else hand it over as `fallback` says, then add them there.
// Never widens access for others. Returns the inode unchanged when it already permits.
export function grant(n: Inode, who: Who, want: Want, fallback: Fallback): Inode {
  if (permits(n, who, want)) return n;
  const bits = neededBits(want, n.isDirectory);
  if (n.uid === who.uid) return { ...n, mode: n.mode | (bits << 6) };
  if (who.gids.includes(n.gid)) return { ...n, mode: n.mode | (bits << 3) };
  if (fallback.takeOwner) {
    // The user takes it (and the unit's group, since it holds neither), keeping what it could already do as other.
    return { ...n, uid: fallback.uid, gid: fallback.gid, mode: n.mode | (bits << 6) | ((n.mode & 7) << 6) };
  }
  return { ...n, gid: fallback.gid, mode: n.mode | (bits << 3) };
}

// The mode without the world-write bit (chmod o-w), special bits kept.
export function withoutWorldWrite(mode: number): number {
  return mode & 0o7775;
}

// What chmod/chown must do to turn `from` into `to`: chown when owner or group differ; chmod when the mode
// differs, or after a chown of a non-directory that carried set-id bits (chown clears them; put them back).
export function changesBetween(from: Inode, to: Inode): { chown: boolean; chmod: boolean } {
  const chown = from.uid !== to.uid || from.gid !== to.gid;
  const chmod = (from.mode & 0o7777) !== (to.mode & 0o7777) || (chown && !to.isDirectory && (to.mode & 0o6000) !== 0);
  return { chown, chmod };
}

// "0755" for plan notes.
export const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, "0");

// The ancestors of an absolute path, from the first component down (/a/b/c → /a, /a/b).
export function ancestorsOf(path: string): string[] {
  const parts = path.split("/").filter(Boolean);
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join("/")}`);
}

// Whether `path` lies under one of `roots` (or is one).
export function within(path: string, roots: string[]): boolean {
  return roots.some((r) => path === r || path.startsWith(r.endsWith("/") ? r : `${r}/`));
}

// Parses find -printf "%m %p" lines (octal mode, space, path) into paths and modes; blank lines skipped.
export function parseModeLines(lines: string[]): Array<{ path: string; mode: number }> {
  const out: Array<{ path: string; mode: number }> = [];
  for (const l of lines) {
    const m = /^([0-7]{1,5}) (\/.*)$/s.exec(l);
    if (m) out.push({ path: m[2] as string, mode: parseInt(m[1] as string, 8) });
  }
  return out;
}

// Gunicorn's log files named on its command line (--access-logfile X, --error-logfile=X, --log-file X), "-" aside.
export function gunicornLogFiles(argv: string[]): string[] {
  const flags = ["--access-logfile", "--error-logfile", "--log-file"];
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const eq = flags.find((f) => a.startsWith(`${f}=`));
    const v = eq ? a.slice(eq.length + 1) : flags.includes(a) ? argv[i + 1] : undefined;
    if (v?.startsWith("/")) out.push(v);
  }
  return [...new Set(out)];
}

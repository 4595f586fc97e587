// An SVG line chart of the benchmark history: each series is a ratio measured in one run (so machines compare),
// one point per run, with its target as a dashed line of the same colour.
export type Series = { name: string; target?: number; values: Array<number | undefined> };

const COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"];
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

// Renders the series over `labels` (one per run) as a standalone SVG document.
export function plotHistory(title: string, labels: string[], series: Series[]): string {
  const W = 820;
  const H = 360;
  const left = 50;
  const right = 290;
  const top = 40;
  const bottom = 60;
  const all = series.flatMap((s) => [...s.values, s.target]).filter((v): v is number => v !== undefined && Number.isFinite(v));
  const max = Math.max(1, ...all) * 1.1;
  const x = (i: number) => left + (labels.length < 2 ? (W - left - right) / 2 : (i * (W - left - right)) / (labels.length - 1));
  const y = (v: number) => top + (1 - v / max) * (H - top - bottom);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14">${esc(title)}</text>`,
  ];
  for (let t = 0; t <= 4; t++) {
    const v = (max * t) / 4;
    parts.push(
      `<line x1="${left}" x2="${W - right}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`,
      `<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(1)}</text>`,
    );
  }
  labels.forEach((l, i) => parts.push(`<text x="${x(i)}" y="${H - bottom + 16}" text-anchor="middle">${esc(l)}</text>`));
  series.forEach((s, k) => {
    const c = COLOURS[k % COLOURS.length];
    const pts = s.values.map((v, i) => (v === undefined ? undefined : `${x(i)},${y(v)}`)).filter(Boolean);
    if (pts.length > 1) parts.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(" ")}"/>`);
    for (const p of pts) parts.push(`<circle cx="${(p as string).split(",")[0]}" cy="${(p as string).split(",")[1]}" r="3" fill="${c}"/>`);
    if (s.target !== undefined)
      parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(s.target)}" y2="${y(s.target)}" stroke="${c}" stroke-dasharray="5,4" opacity="0.6"/>`);
    const ly = top + 10 + k * 18;
    parts.push(
      `<rect x="${W - right + 14}" y="${ly - 8}" width="10" height="10" fill="${c}"/>`,
      `<text x="${W - right + 30}" y="${ly + 1}">${esc(s.name)}${s.target !== undefined ? ` (target ${s.target})` : ""}</text>`,
    );
  });
  parts.push("</svg>");
  return `${parts.join("\n")}\n`;
}

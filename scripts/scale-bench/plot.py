"""Verifies per second against clients, one line per thread layout and pack (the default pack,
`open`, and the test pair, labelled), from run.sh's result.jsonl, as a small SVG (standard library
only, so it runs wherever the benchmark ran)."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
cores = next((r["cores"] for r in rows if "cores" in r), "?")
runs = [r for r in rows if "layout" in r]
for r in runs:  # results from before packs were labelled are the test pair's
    r["layout"] = f'{r["layout"]}, {r.get("pack", "test pair")}'
layouts = sorted({r["layout"] for r in runs})
clients = sorted({r["c"] for r in runs})
top = max(r["rps"] for r in runs) * 1.1 or 1
W, H, L, B = 560, 340, 60, 40
x = lambda c: L + (W - L - 20) * clients.index(c) / max(1, len(clients) - 1)
y = lambda v: H - B - (H - B - 20) * v / top
colours = {"auto, open": "#1f77b4", "shared, open": "#d62728", "per-worker, open": "#2ca02c",
           "auto, test pair": "#9467bd"}
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<text x="{W/2}" y="14" text-anchor="middle">verifies/s by clients, {cores} cores</text>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-20}" y2="{H-B}" stroke="black"/><line x1="{L}" y1="20" x2="{L}" y2="{H-B}" stroke="black"/>']
for c in clients:
    out.append(f'<text x="{x(c)}" y="{H-B+16}" text-anchor="middle">{c}</text>')
for i in range(5):
    v = top * i / 4
    out.append(f'<text x="{L-6}" y="{y(v)+4}" text-anchor="end">{v:.0f}</text>')
for n, layout in enumerate(layouts):
    pts = sorted((r["c"], r["rps"]) for r in runs if r["layout"] == layout)
    colour = colours.get(layout, "gray")
    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="' + " ".join(f"{x(c):.1f},{y(v):.1f}" for c, v in pts) + '"/>')
    out.append(f'<text x="{L+10}" y="{34+16*n}" fill="{colour}">{layout}</text>')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out))

// An SVG bar chart of the benchmark results (and, below it, the W3 fleet: one process alone against the slowest
// process of the fleet, per origin and read shape): throughput per workload and origin, with direct, cold, warm and the
// raw node-redis ceiling side by side (log scale, since they span three orders of magnitude).
const COLORS = { direct: '#9e9e9e', cold: '#1f77b4', warm: '#2ca02c', ceiling: '#ff7f0e' };
const VARIANTS = ['direct', 'cold', 'warm', 'ceiling'];

export function renderChart(results) {
  const groups = [];
  for (const origin of ['plain', 's3like', 's3']) {
    for (const workload of ['W1', 'W2']) {
      const bars = VARIANTS.map((v) => results.summary.find((s) => s.origin === origin && s.workload === workload && s.variant === v))
        .map((s, i) => ({ variant: VARIANTS[i], mibps: s?.mibps.median }));
      if (bars.some((b) => b.mibps !== undefined)) groups.push({ label: `${workload} ${origin}`, bars });
    }
  }
  const barW = 22;
  const gap = 30;
  const left = 70;
  const top = 50;
  const h = 300;
  const width = left + groups.length * (VARIANTS.length * barW + gap) + 20;
  const height = top + h + 80;
  const max = Math.max(10, ...groups.flatMap((g) => g.bars.map((b) => b.mibps ?? 0)));
  const lmax = Math.ceil(Math.log10(max));
  const y = (v) => top + h - (Math.log10(Math.max(1, v)) / lmax) * h;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">rangecache throughput, MiB/s (log scale), median of ${results.meta.reps} runs${results.meta.quick ? ' (quick mode)' : ''}</text>`);
  for (let p = 0; p <= lmax; p++) {
    const yy = y(10 ** p);
    out.push(`<line x1="${left}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="#ddd"/><text x="${left - 6}" y="${yy + 4}" text-anchor="end">${10 ** p}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + 10 + gi * (VARIANTS.length * barW + gap);
    g.bars.forEach((b, bi) => {
      if (b.mibps === undefined) return;
      const x = x0 + bi * barW;
      const yy = y(b.mibps);
      out.push(`<rect x="${x}" y="${yy}" width="${barW - 3}" height="${top + h - yy}" fill="${COLORS[b.variant]}"><title>${g.label} ${b.variant}: ${b.mibps.toFixed(1)} MiB/s</title></rect>`);
      out.push(`<text x="${x + (barW - 3) / 2}" y="${yy - 3}" text-anchor="middle" font-size="9">${b.mibps >= 100 ? b.mibps.toFixed(0) : b.mibps.toFixed(1)}</text>`);
    });
    out.push(`<text x="${x0 + (VARIANTS.length * barW) / 2}" y="${top + h + 16}" text-anchor="middle">${g.label}</text>`);
  });
  VARIANTS.forEach((v, i) => {
    const x = left + i * 150;
    out.push(`<rect x="${x}" y="${height - 30}" width="12" height="12" fill="${COLORS[v]}"/><text x="${x + 16}" y="${height - 20}">${
      { direct: 'direct origin (no cache)', cold: 'rangecache cold', warm: 'rangecache warm', ceiling: 'raw node-redis GET' }[v]}</text>`);
  });
  out.push('</svg>');
  const main = out.join('\n') + '\n';
  return fleetPanel(results, width, height, main);
}

/** Appends the W3 panel (seconds, linear scale) below the throughput chart, if the run has fleet results. */
function fleetPanel(results, width, height, main) {
  const fleets = results.summary.filter((s) => s.workload.startsWith('W3') && s.variant === 'fleet');
  if (fleets.length === 0) return main;
  const groups = fleets.map((f) => ({
    label: `${f.workload.slice(3)} ${f.origin}`, ratio: f.slowestOverAlone?.median, amp: f.amplification?.median,
    alone: results.summary.find((s) => s.origin === f.origin && s.workload === f.workload && s.variant === 'alone')?.wallMs.median,
    slowest: f.wallMs.median, n: f.processes,
  }));
  const barW = 22, gap = 40, left = 70, top = 40, h = 220;
  const w2 = Math.max(width, left + groups.length * (2 * barW + gap) + 20);
  const max = Math.max(...groups.flatMap((g) => [g.alone ?? 0, g.slowest])) / 1000;
  const y = (sec) => top + h - (sec / max) * h;
  const out = [`<g transform="translate(0 ${height})">`];
  out.push(`<text x="${left}" y="20" font-size="14" font-weight="bold">W3 fleet, wall s: one process alone vs the slowest of the fleet (label: slowest / alone, origin amplification)</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (max * k) / 4;
    out.push(`<line x1="${left}" x2="${w2 - 10}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(2)}</text>`);
  }
  groups.forEach((g, gi) => {
    const x0 = left + 10 + gi * (2 * barW + gap);
    [['alone', g.alone, '#2ca02c'], ['slowest', g.slowest, '#d62728']].forEach(([name, ms, color], bi) => {
      if (ms === undefined) return;
      const yy = y(ms / 1000);
      out.push(`<rect x="${x0 + bi * barW}" y="${yy}" width="${barW - 3}" height="${top + h - yy}" fill="${color}"><title>${g.label} ${name}: ${(ms / 1000).toFixed(3)} s</title></rect>`);
    });
    out.push(`<text x="${x0 + barW}" y="${top + h + 16}" text-anchor="middle">${g.label}</text>`);
    out.push(`<text x="${x0 + barW}" y="${top + h + 30}" text-anchor="middle" font-size="9">${g.ratio?.toFixed(2)}x, amp ${g.amp?.toFixed(2)}</text>`);
  });
  out.push(`<rect x="${left}" y="${top + h + 42}" width="12" height="12" fill="#2ca02c"/><text x="${left + 16}" y="${top + h + 52}">one process alone (cold)</text>`);
  out.push(`<rect x="${left + 200}" y="${top + h + 42}" width="12" height="12" fill="#d62728"/><text x="${left + 216}" y="${top + h + 52}">slowest of ${groups[0].n} processes (cold, released together)</text>`);
  out.push('</g>');
  const total = height + top + h + 70;
  return main
    .replace(/^<svg [^>]*>/, `<svg xmlns="http://www.w3.org/2000/svg" width="${w2}" height="${total}" font-family="sans-serif" font-size="11">`)
    .replace('</svg>', out.join('\n') + '\n</svg>');
}

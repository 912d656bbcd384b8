import type { ECharts } from 'echarts/core';

/** A chart's data as a table: CSV rows and a JSON object. */
export interface ChartData { columns: string[]; rows: (string | number | null)[][]; json: any; }

function download(name: string, blob: Blob) {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}

function csv(d: ChartData): string {
  const cell = (v: string | number | null) => {
    if (v === null || v === undefined) return '';
    const s = String(v);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [d.columns, ...d.rows].map((r) => r.map(cell).join(',')).join('\n') + '\n';
}

/** PNG of an SVG string, drawn at twice its size on a white background. */
function svgToPng(svg: string, width: number, height: number): Promise<Blob> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement('canvas');
      c.width = width * 2;
      c.height = height * 2;
      const ctx = c.getContext('2d')!;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, c.width, c.height);
      ctx.drawImage(img, 0, 0, c.width, c.height);
      c.toBlob((b) => (b ? resolve(b) : reject(new Error('no PNG'))), 'image/png');
    };
    img.onerror = () => reject(new Error('SVG did not load'));
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`;
  });
}

/**
 * The export links above a chart: PNG, SVG (the picture) and CSV, JSON (its numbers). `svg()` gives the chart as
 * an SVG string whatever its renderer.
 */
export function exportBar(name: () => string, chart: () => ECharts | undefined, svg: () => string,
                          data: () => ChartData): HTMLElement {
  const bar = document.createElement('div');
  bar.className = 'chart-export';
  bar.style.cssText = 'display: flex; justify-content: flex-end; gap: 10px; font-size: var(--lumo-font-size-xxs);';
  const link = (label: string, act: () => void) => {
    const a = document.createElement('a');
    a.textContent = label;
    a.href = '#';
    a.dataset.export = label.toLowerCase();
    a.style.color = 'var(--lumo-secondary-text-color)';
    a.addEventListener('click', (e) => { e.preventDefault(); act(); });
    bar.appendChild(a);
  };
  link('PNG', () => {
    const c = chart();
    if (!c) return;
    svgToPng(svg(), c.getWidth(), c.getHeight()).then((b) => download(`${name()}.png`, b));
  });
  link('SVG', () => download(`${name()}.svg`, new Blob([svg()], { type: 'image/svg+xml' })));
  link('CSV', () => download(`${name()}.csv`, new Blob([csv(data())], { type: 'text/csv' })));
  link('JSON', () => download(`${name()}.json`, new Blob([JSON.stringify(data().json, null, 1)], { type: 'application/json' })));
  return bar;
}

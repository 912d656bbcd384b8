import type { ChartData } from './echarts-setup';
import { ChartElement, escapeHtml } from './echarts-setup';

/** Above this many cells the grid is drawn on a canvas: SVG with one element per cell gets slow. */
const CANVAS_CELLS = 2500;

/**
 * Above this many cells (without cell labels) the cells are painted as one picture of the visible window instead of
 * one ECharts shape each: a full-context attention pattern (33k cells) takes seconds as shapes, milliseconds as
 * pixels. Axes, zoom and legend stay ECharts'; the tooltip and clicks map the pointer to the cell.
 */
const PICTURE_CELLS = 12000;

/** sRGB relative luminance of #rrggbb (WCAG). */
function luminance(rgb: number[]): number {
  const c = rgb.map((x) => x / 255).map((x) => (x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4)));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

/**
 * The colour ECharts gives value t in [0, 1] on a scale of evenly spaced stops (linear in RGB); the stops as parsed
 * [r, g, b] (parsed once per chart: tens of thousands of cells).
 */
function colourAt(stops: number[][], t: number): number[] {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const a = stops[i], b = stops[i + 1], f = x - i;
  return a.map((v, k) => v + (b[k] - v) * f);
}

/** Cells of a spec's rows (rows may be ragged: a causal pattern sends keys 0..q of row q). */
const cellCount = (s: any): number => (s.values ?? []).reduce((n: number, r: unknown[]) => n + r.length, 0);

/** Black or white, whichever reads better on the cell. */
function textColour(cell: number[]): string {
  const l = luminance(cell);
  return (1.05 / (l + 0.05)) >= ((l + 0.05) / 0.05) ? '#ffffff' : '#000000';
}

/** A cell label cut to a cell `cell` pixels wide (an ellipsis at its end); none in cells too narrow for a letter. */
function fit(cell: number): any {
  const width = Math.floor(cell - 4);
  return { width: Math.max(1, width), overflow: 'truncate', ellipsis: '…', show: width >= 10 };
}

/** The colour stops of a spec: its own, or blue–white–red when diverging, else white to dark blue. */
const palette = (s: any): string[] => s.colors || (s.diverging ? ['#2166ac', '#f7f7f7', '#b2182b'] : ['#f7fbff', '#6baed6', '#08306b']);

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));

/** The tooltip of cell (x, y): its row and column labels, then its tip line(s) or its value. */
function tipHtml(s: any, x: number, y: number, v: number): string {
  const head = `${escapeHtml(String(s.yName || 'y'))} ${escapeHtml(String(s.yLabels?.[y] ?? y))} · `
    + `${escapeHtml(String(s.xName || 'x'))} ${escapeHtml(String(s.xLabels?.[x] ?? x))}`;
  const tip = s.tips?.[y]?.[x];
  const body = tip ? escapeHtml(tip).replace(/\n/g, '<br>') : fmt(v);
  return `<b>${head}</b><br>${body}`;
}

/** A zoom window over an axis: the last `window` entries (all when window is 0), with a slider and the wheel. */
function zoom(axis: 'x' | 'y', n: number, window: number): any[] {
  const start = window > 0 ? Math.max(0, n - window) : 0;
  const index = axis === 'x' ? { xAxisIndex: 0 } : { yAxisIndex: 0 };
  return [
    { type: 'slider', ...index, startValue: start, endValue: n - 1, height: axis === 'x' ? 16 : undefined,
      width: axis === 'y' ? 16 : undefined, bottom: axis === 'x' ? 4 : undefined, right: axis === 'y' ? 4 : undefined,
      labelFormatter: '' },
    { type: 'inside', ...index, startValue: start, endValue: n - 1, zoomOnMouseWheel: 'shift', moveOnMouseWheel: false },
  ];
}

/**
 * A labelled heatmap. Spec: { title, xLabels, yLabels, xName, yName, values: rows of numbers (null = empty),
 * text: rows of cell labels (optional), tips: rows of tooltip lines (optional), min, max, diverging, colors,
 * legendText: [top, bottom], height, labelSize, canvas: draw on a canvas at any size, zoomX / zoomY: show a zoom window on that axis of the last N
 * entries (0: all) }. Row 0 is drawn at the top. Clicking a cell fires `cell-click` with {x, y}.
 */
class LoupeHeatmap extends ChartElement {
  protected renderer(s: any): 'svg' | 'canvas' {
    return s.canvas || cellCount(s) > CANVAS_CELLS ? 'canvas' : 'svg';
  }

  /** Whether the cell labels are cut to the cells' width (spec.fitText, with text and at least two columns). */
  private fitting = false;
  /** The label width set last (each new spec sets its own first guess). */
  private fittedWidth = -1;

  /** Whether the cells are painted as a picture (see PICTURE_CELLS), for the spec drawn last. */
  private picture = false;
  private spec_: any = {};
  private tip?: HTMLDivElement;

  protected options(s: any): any {
    this.picture = cellCount(s) > PICTURE_CELLS && !s.text;
    this.spec_ = s;
    return this.build(s, this.picture);
  }

  /** An SVG export draws every cell as a shape (a picture in an SVG would not be vector). */
  protected exportOptions(s: any): any { return this.build(s, false); }

  private build(s: any, picture: boolean): any {
    const values: (number | null)[][] = s.values || [];
    const text: string[][] | undefined = s.text;
    const colors = palette(s), stops = colors.map(hex);
    const min = s.min ?? 0, max = s.max ?? 1;
    const data: any[] = [];
    for (let y = 0; y < (picture ? 0 : values.length); y++) {
      for (let x = 0; x < values[y].length; x++) {
        const v = values[y][x];
        if (v === null || v === undefined) continue;
        // with text in the cells, each label gets the colour that reads on its cell
        data.push(text ? { value: [x, y, v], label: { color: textColour(colourAt(stops, (v - min) / (max - min || 1))) } } : [x, y, v]);
      }
    }
    const nx = s.xLabels?.length ?? 0, ny = s.yLabels?.length ?? 0;
    this.fitting = !!(s.fitText && text) && nx >= 2;
    const guess = fit(((this.clientWidth || 800) - (s.gridLeft ?? 90) - (s.zoomY !== undefined ? 36 : 20))
      / Math.max(1, s.zoomX ? Math.min(s.zoomX, nx) : nx));
    this.fittedWidth = this.fitting ? guess.width : -1;
    const grid = { left: s.gridLeft ?? 90, right: s.zoomY !== undefined ? 36 : 20, top: s.title || s.legend ? 36 : 12,
      bottom: (s.gridBottom ?? 70) + (s.zoomX !== undefined ? 18 : 0) };
    const dataZoom = [...(s.zoomX !== undefined ? zoom('x', nx, s.zoomX) : []), ...(s.zoomY !== undefined ? zoom('y', ny, s.zoomY) : [])];
    const axisLabel = (n: number, rotate: number) => ({
      show: !s.hideAxes, rotate, fontSize: 11, hideOverlap: true,
      // many labels: ECharts keeps every k-th so they do not overlap
      interval: s.labelInterval ?? (n > 60 ? 'auto' : 0),
    });
    return {
      animation: false,
      // with a legend (top right) the title goes to the left, so they never overlap
      title: s.title ? { text: s.title, left: s.legend ? 0 : 'center', textStyle: { fontSize: 13, fontWeight: 'normal' } } : undefined,
      grid: { ...grid, containLabel: false },
      dataZoom,
      // a picture has no shapes to hover: its tooltip is this element's own (see created)
      tooltip: picture ? { show: false } : {
        confine: true,
        formatter: (p: any) => {
          const [x, y, v] = p.value ?? p.data;
          return tipHtml(s, x, y, v);
        },
      },
      graphic: picture ? [{ id: 'cells', type: 'image', silent: true, z: 1, style: this.firstPicture(s, grid, nx, ny) }] : undefined,
      xAxis: {
        type: 'category', data: s.xLabels, name: s.hideAxes ? undefined : s.xName, nameLocation: 'middle', nameGap: s.xNameGap ?? 52,
        splitArea: { show: false }, axisLabel: axisLabel(nx, s.xRotate ?? 45), axisTick: { show: !s.hideAxes },
      },
      yAxis: {
        type: 'category', data: s.yLabels, name: s.hideAxes ? undefined : s.yName, nameLocation: 'middle', nameGap: s.yNameGap ?? 70,
        inverse: true, axisLabel: axisLabel(ny, 0), axisTick: { show: !s.hideAxes },
      },
      visualMap: {
        min, max, calculable: false, show: s.legend ?? false, inRange: { color: colors },
        orient: 'horizontal', right: 10, top: 0, itemHeight: 100, itemWidth: 10,
        text: s.legendText ?? [fmt(max), fmt(min)], textStyle: { fontSize: 10 },
      },
      series: [{
        type: 'heatmap', data, progressive: 0,
        label: {
          show: !!text, fontSize: s.labelSize ?? 10, color: '#000000',
          // fitText: each label cut to its cell (see drawn); until the chart is laid out, the width the grid gives it
          ...(this.fitting ? guess : {}),
          formatter: (p: any) => {
            const [x, y] = p.value ?? p.data;
            return text ? (text[y]?.[x] ?? '') : '';
          },
        },
        emphasis: { itemStyle: { borderColor: '#ff9800', borderWidth: 2 } },
      }],
    };
  }

  /**
   * The grid's rectangle in pixels and the category window shown on each axis ([first, last] index), from the
   * laid-out chart.
   */
  private static window(chart: any): { rect: any; x: number[]; y: number[] } | null {
    const grid = chart.getModel?.().getComponent('grid', 0)?.coordinateSystem;
    if (!grid) return null;
    const ext = (a: string) => grid.getAxis(a).scale.getExtent().map((v: number) => Math.round(v));
    return { rect: grid.getRect(), x: ext('x'), y: ext('y') };
  }

  /** The cell under pixel (px, py) of the chart, or null outside the grid. */
  private cellAt(chart: any, px: number, py: number): { x: number; y: number; v: number } | null {
    const w = LoupeHeatmap.window(chart);
    if (!w) return null;
    const { rect } = w;
    if (px < rect.x || py < rect.y || px >= rect.x + rect.width || py >= rect.y + rect.height) return null;
    const x = w.x[0] + Math.floor((px - rect.x) * (w.x[1] - w.x[0] + 1) / rect.width);
    const y = w.y[0] + Math.floor((py - rect.y) * (w.y[1] - w.y[0] + 1) / rect.height);
    const v = this.spec_.values?.[y]?.[x];
    return v === null || v === undefined ? null : { x, y, v };
  }

  /**
   * The picture for the first drawing, from the grid's margins and the chart's size and the zoom windows the option
   * opens on, so the chart is not drawn twice; paint corrects it if the laid-out grid differs.
   */
  private firstPicture(s: any, grid: any, nx: number, ny: number): any {
    const width = (this.chart?.getWidth() ?? 0) - grid.left - grid.right, height = (this.chart?.getHeight() ?? 0) - grid.top - grid.bottom;
    if (width <= 0 || height <= 0 || nx === 0 || ny === 0) return { image: '', x: 0, y: 0, width: 0, height: 0 };
    const first = (n: number, window?: number) => (window ? Math.max(0, n - window) : 0);
    const w = { rect: { x: grid.left, y: grid.top, width, height }, x: [first(nx, s.zoomX), nx - 1], y: [first(ny, s.zoomY), ny - 1] };
    return { image: this.picturePixels(s, w), ...w.rect };
  }

  /** The picture drawn last: grid rectangle and window, so an unchanged one is not painted again. */
  private paintedKey = '';

  private static key(w: { rect: any; x: number[]; y: number[] }): string {
    return `${w.rect.x},${w.rect.y},${w.rect.width},${w.rect.height} ${w.x[0]}-${w.x[1]}x${w.y[0]}-${w.y[1]}`;
  }

  /** After layout, zoom or resize: the picture painted again where its rectangle or window changed. */
  private paint(chart: any) {
    const w = LoupeHeatmap.window(chart);
    if (!w || LoupeHeatmap.key(w) === this.paintedKey) return;
    const canvas = this.picturePixels(this.spec_, w);
    chart.setOption({ graphic: [{ id: 'cells', style: { image: canvas, x: w.rect.x, y: w.rect.y, width: w.rect.width, height: w.rect.height } }] });
  }

  /** The window of cells painted at the grid's pixel size (nearest cell per pixel; empty cells clear). */
  private picturePixels(s: any, w: { rect: any; x: number[]; y: number[] }): HTMLCanvasElement {
    const values: (number | null)[][] = s.values || [];
    const stops = palette(s).map(hex);
    const min = s.min ?? 0, max = s.max ?? 1;
    const ratio = window.devicePixelRatio || 1;
    const W = Math.max(1, Math.round(w.rect.width * ratio)), H = Math.max(1, Math.round(w.rect.height * ratio));
    const canvas = document.createElement('canvas');
    canvas.width = W;
    canvas.height = H;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(W, H);
    const nx = w.x[1] - w.x[0] + 1, ny = w.y[1] - w.y[0] + 1;
    // a cell's colour as one little-endian RGBA word
    const word = (v: number) => {
      const c = colourAt(stops, (v - min) / (max - min || 1)).map(Math.round);
      return ((255 << 24) | (c[2] << 16) | (c[1] << 8) | c[0]) >>> 0;
    };
    const pixels = new Uint32Array(img.data.buffer);
    // each pixel column's cell; a pixel row of the same cell row as the one above is a copy of it
    const col = new Int32Array(W);
    for (let i = 0; i < W; i++) col[i] = Math.floor((i + 0.5) * nx / W);
    const rowWords = new Uint32Array(nx);
    let lastY = -1;
    for (let j = 0; j < H; j++) {
      const y = w.y[0] + Math.floor((j + 0.5) * ny / H);
      if (y === lastY) {
        pixels.copyWithin(j * W, (j - 1) * W, j * W);
        continue;
      }
      lastY = y;
      const row = values[y] ?? [];
      for (let x = 0; x < nx; x++) {
        const v = row[w.x[0] + x];
        rowWords[x] = v === null || v === undefined ? 0 : word(v);
      }
      for (let i = 0; i < W; i++) pixels[j * W + i] = rowWords[col[i]];
    }
    ctx.putImageData(img, 0, 0);
    this.paintedKey = LoupeHeatmap.key(w);
    this.dataset.painted = `${w.x[0]}-${w.x[1]}x${w.y[0]}-${w.y[1]}`;
    return canvas;
  }

  protected created(chart: any) {
    const zr = chart.getZr();
    zr.on('mousemove', (e: any) => {
      if (!this.picture) return;
      const c = this.cellAt(chart, e.offsetX, e.offsetY);
      this.showTip(c ? tipHtml(this.spec_, c.x, c.y, c.v) : null, e.offsetX, e.offsetY);
    });
    zr.on('globalout', () => this.showTip(null, 0, 0));
    zr.on('click', (e: any) => {
      if (!this.picture) return;
      const c = this.cellAt(chart, e.offsetX, e.offsetY);
      if (c) this.dispatchEvent(new CustomEvent('cell-click', { detail: { x: c.x, y: c.y } }));
    });
  }

  /** The picture's tooltip: ECharts' look, kept inside the chart. */
  private showTip(html: string | null, px: number, py: number) {
    if (!html) {
      if (this.tip) this.tip.style.display = 'none';
      return;
    }
    if (!this.tip) {
      this.tip = document.createElement('div');
      this.tip.className = 'heatmap-tip';
      this.tip.style.cssText = 'position: absolute; pointer-events: none; z-index: 10; background: #fff; border: 1px solid #ccc;'
        + ' border-radius: 4px; padding: 6px 10px; font: 12px sans-serif; color: #333; box-shadow: 1px 2px 10px rgba(0,0,0,.2);'
        + ' white-space: nowrap;';
      this.style.position = 'relative';
      this.appendChild(this.tip);
    }
    this.tip.innerHTML = html;
    this.tip.style.display = 'block';
    // beside the pointer, flipped to stay inside the chart
    const box = this.tip.getBoundingClientRect(), top = this.clientHeight - (this.chart?.getHeight() ?? this.clientHeight); // the export links above
    const left = px + 14 + box.width > this.clientWidth ? px - 14 - box.width : px + 14;
    this.tip.style.left = `${Math.max(0, left)}px`;
    this.tip.style.top = `${Math.max(0, py + top + 14 + box.height > this.clientHeight ? py + top - 14 - box.height : py + top + 14)}px`;
  }

  /** With fitText, the labels follow the cells' width as the zoom window or the size changes; a picture is painted again. */
  protected drawn(chart: any) {
    if (this.picture) this.paint(chart);
    if (!this.fitting) return;
    const width = Math.abs(chart.convertToPixel({ xAxisIndex: 0 }, 1) - chart.convertToPixel({ xAxisIndex: 0 }, 0));
    if (!Number.isFinite(width)) return;
    const label = fit(width);
    if (label.width === this.fittedWidth) return;
    this.fittedWidth = label.width;
    chart.setOption({ series: [{ label }] });
  }

  protected exportData(s: any): ChartData {
    const values: (number | null)[][] = s.values || [];
    return {
      columns: [`${s.yName ?? 'row'} \\ ${s.xName ?? 'column'}`, ...(s.xLabels ?? values[0]?.map((_, i) => String(i)) ?? [])],
      rows: values.map((r, i) => [s.yLabels?.[i] ?? String(i), ...r]),
      json: { title: s.title, xName: s.xName, yName: s.yName, xLabels: s.xLabels, yLabels: s.yLabels, values, text: s.text },
    };
  }

  protected clicked(p: any) {
    const v = p?.value ?? p?.data;
    if (!v) return;
    this.dispatchEvent(new CustomEvent('cell-click', { detail: { x: v[0], y: v[1] } }));
  }
}

customElements.define('loupe-heatmap', LoupeHeatmap);

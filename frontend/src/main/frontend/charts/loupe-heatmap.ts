import type { ChartData } from './echarts-setup';
import { ChartElement, escapeHtml } from './echarts-setup';

/** Above this many cells the grid is drawn on a canvas: SVG with one element per cell gets slow. */
const CANVAS_CELLS = 2500;

/** sRGB relative luminance of #rrggbb (WCAG). */
function luminance(rgb: number[]): number {
  const c = rgb.map((x) => x / 255).map((x) => (x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4)));
  return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

const hex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

/** The colour ECharts gives value t in [0, 1] on a scale of evenly spaced stops (linear in RGB). */
function colourAt(stops: string[], t: number): number[] {
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const a = hex(stops[i]), b = hex(stops[i + 1]), f = x - i;
  return a.map((v, k) => v + (b[k] - v) * f);
}

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
 * legendText: [top, bottom], height, labelSize, zoomX / zoomY: show a zoom window on that axis of the last N
 * entries (0: all) }. Row 0 is drawn at the top. Clicking a cell fires `cell-click` with {x, y}.
 */
class LoupeHeatmap extends ChartElement {
  protected renderer(s: any): 'svg' | 'canvas' {
    // rows may be ragged (a causal pattern sends keys 0..q of row q): count the cells
    const cells = (s.values ?? []).reduce((n: number, r: unknown[]) => n + r.length, 0);
    return cells > CANVAS_CELLS ? 'canvas' : 'svg';
  }

  /** Whether the cell labels are cut to the cells' width (spec.fitText, with text and at least two columns). */
  private fitting = false;
  /** The label width set last (each new spec sets its own first guess). */
  private fittedWidth = -1;

  protected options(s: any): any {
    const values: (number | null)[][] = s.values || [];
    const text: string[][] | undefined = s.text;
    const tips: string[][] | undefined = s.tips;
    const colors: string[] = s.colors || (s.diverging ? ['#2166ac', '#f7f7f7', '#b2182b'] : ['#f7fbff', '#6baed6', '#08306b']);
    const min = s.min ?? 0, max = s.max ?? 1;
    const data: any[] = [];
    for (let y = 0; y < values.length; y++) {
      for (let x = 0; x < values[y].length; x++) {
        const v = values[y][x];
        if (v === null || v === undefined) continue;
        // with text in the cells, each label gets the colour that reads on its cell
        data.push(text ? { value: [x, y, v], label: { color: textColour(colourAt(colors, (v - min) / (max - min || 1))) } } : [x, y, v]);
      }
    }
    const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));
    const nx = s.xLabels?.length ?? 0, ny = s.yLabels?.length ?? 0;
    this.fitting = !!(s.fitText && text) && nx >= 2;
    const guess = fit(((this.clientWidth || 800) - (s.gridLeft ?? 90) - (s.zoomY !== undefined ? 36 : 20))
      / Math.max(1, s.zoomX ? Math.min(s.zoomX, nx) : nx));
    this.fittedWidth = this.fitting ? guess.width : -1;
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
      grid: { left: s.gridLeft ?? 90, right: s.zoomY !== undefined ? 36 : 20, top: s.title || s.legend ? 36 : 12,
        bottom: (s.gridBottom ?? 70) + (s.zoomX !== undefined ? 18 : 0), containLabel: false },
      dataZoom,
      tooltip: {
        confine: true,
        formatter: (p: any) => {
          const [x, y, v] = p.value ?? p.data;
          const head = `${escapeHtml(String(s.yName || 'y'))} ${escapeHtml(String(s.yLabels?.[y] ?? y))} · `
            + `${escapeHtml(String(s.xName || 'x'))} ${escapeHtml(String(s.xLabels?.[x] ?? x))}`;
          const tip = tips?.[y]?.[x];
          const body = tip ? escapeHtml(tip).replace(/\n/g, '<br>') : fmt(v);
          return `<b>${head}</b><br>${body}`;
        },
      },
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

  /** With fitText, the labels follow the cells' width as the zoom window or the size changes. */
  protected drawn(chart: any) {
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

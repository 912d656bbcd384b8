// ECharts, tree-shaken to what Loupe's charts use. Rendered as SVG so labels are real text in the page, except
// big grids (thousands of cells), which a canvas draws far faster.
import * as echarts from 'echarts/core';
import { BarChart, HeatmapChart, LineChart, ScatterChart } from 'echarts/charts';
import {
  DataZoomComponent, GraphicComponent, GridComponent, LegendComponent, MarkLineComponent, TitleComponent, TooltipComponent, VisualMapComponent,
} from 'echarts/components';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import { exportBar } from './chart-export';
import type { ChartData } from './chart-export';
import { takeEarlyProperty } from './early-property';

echarts.use([HeatmapChart, BarChart, LineChart, ScatterChart, GridComponent, TitleComponent, TooltipComponent, VisualMapComponent,
  DataZoomComponent, GraphicComponent, LegendComponent, MarkLineComponent, SVGRenderer, CanvasRenderer]);

export { echarts };
export type { ChartData } from './chart-export';

/** Height of the export links above every chart. */
const EXPORT_BAR = 18;

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Base of Loupe's chart elements: a `spec` property (JSON text set from Java) drawn into an ECharts instance
 * that follows the element's size.
 */
export abstract class ChartElement extends HTMLElement {
  protected chart?: echarts.ECharts;
  private rendererType = 'svg';
  private pending = false;
  private box?: HTMLDivElement;
  private observer?: ResizeObserver;
  private specText = '';

  set spec(value: string) {
    this.specText = value || '';
    this.render();
  }

  get spec(): string { return this.specText; }

  connectedCallback() {
    const early = takeEarlyProperty(this, 'spec');
    if (early !== undefined) this.specText = early;
    if (!this.box) {
      // export links (PNG, SVG, CSV, JSON) above the chart
      this.appendChild(exportBar(() => this.id || this.localName, () => this.chart, () => this.svg(),
        () => this.exportData(JSON.parse(this.specText || '{}'))));
      this.box = document.createElement('div');
      this.box.style.width = '100%';
      this.box.style.height = `calc(100% - ${EXPORT_BAR}px)`;
      this.appendChild(this.box);
    }
    if (!this.style.display) this.style.display = 'block';
    this.observer = new ResizeObserver(() => {
      // a chart is first drawn once its box has a size (see render)
      if (!this.chart) { this.render(); return; }
      // a resize redraws every shape: only when the size did change (the observer also reports the first size)
      if (this.chart.getWidth() === this.box!.clientWidth && this.chart.getHeight() === this.box!.clientHeight) return;
      this.chart.resize();
      this.drawn(this.chart);
    });
    this.observer.observe(this);
    this.render();
  }

  disconnectedCallback() {
    this.observer?.disconnect();
    const c = this.chart;
    this.chart = undefined;
    if (c) {
      // a canvas chart may still be painting over several frames; an empty refresh first makes the pending frame
      // stand down (it checks its redraw id), so disposing cannot leave it painting into a released painter
      c.clear();
      c.getZr().refreshImmediately();
      c.dispose();
    }
  }

  private render() {
    if (!this.box || !this.isConnected || !this.specText) return;
    const spec = JSON.parse(this.specText);
    if (spec.height) this.style.height = `${spec.height + EXPORT_BAR}px`;
    // not laid out yet (a results box still hidden): drawn at 0 × 0 ECharts would hide every axis label as
    // overlapping and count as drawn; the resize observer draws it when it gets its size
    if (!this.chart && this.box.clientWidth === 0) return;
    const renderer = this.renderer(spec);
    if (this.chart && renderer !== this.rendererType) {
      this.chart.dispose();
      this.chart = undefined;
    }
    if (!this.chart) {
      this.rendererType = renderer;
      this.chart = echarts.init(this.box, undefined, { renderer });
      this.chart.on('click', (p: any) => this.clicked(p));
      this.created(this.chart);
      // after the zoom's own update, not inside it
      this.chart.on('datazoom', () => { setTimeout(() => { if (this.chart) this.drawn(this.chart); }, 0); });
      // drawn, not only configured: what a user sees (tests wait on this attribute)
      this.chart.on('finished', () => {
        if (this.pending) this.dataset.rendered = String(Number(this.dataset.rendered || '0') + 1);
        this.pending = false;
      });
    }
    this.pending = true;
    // a new height: resized while empty, so the new option is drawn once, at its size
    if (this.chart.getWidth() !== this.box.clientWidth || this.chart.getHeight() !== this.box.clientHeight) {
      this.chart.clear();
      this.chart.resize();
    }
    this.chart.setOption(this.options(spec), true);
    this.drawn(this.chart);
  }

  protected abstract options(spec: any): any;

  /** Once, when the ECharts instance is made: a chart can listen to its events. */
  protected created(_chart: echarts.ECharts) {}

  /** The option an SVG export draws (the chart's own by default). */
  protected exportOptions(spec: any): any { return this.options(spec); }

  /** After the chart is laid out (set, resized): a chart can adjust what depends on its pixels. */
  protected drawn(_chart: echarts.ECharts) {}

  /** Saves the chart as a PNG file (the SVG drawn onto a canvas at twice its size, on white). */
  downloadPng(name: string) {
    if (!this.chart) return;
    const svg = this.chart.getDataURL({ type: 'svg' });
    const w = this.clientWidth, h = this.clientHeight;
    const img = new Image();
    img.onload = () => {
      const canvas = document.createElement('canvas');
      canvas.width = 2 * w;
      canvas.height = 2 * h;
      const g = canvas.getContext('2d')!;
      g.fillStyle = '#fff';
      g.fillRect(0, 0, canvas.width, canvas.height);
      g.drawImage(img, 0, 0, canvas.width, canvas.height);
      const a = document.createElement('a');
      a.href = canvas.toDataURL('image/png');
      a.download = name;
      a.click();
      this.dataset.pngSaved = String(Number(this.dataset.pngSaved || '0') + 1);
    };
    img.src = svg;
  }

  /** The chart's numbers for CSV and JSON export; by default the spec as JSON and no table. */
  protected exportData(spec: any): ChartData { return { columns: [], rows: [], json: spec }; }

  /** The chart as SVG text; a canvas chart is drawn again by an SVG renderer off screen. */
  private svg(): string {
    if (!this.chart) return '';
    if (this.rendererType === 'svg') return this.chart.renderToSVGString();
    const off = echarts.init(null as any, undefined, { renderer: 'svg', ssr: true, width: this.chart.getWidth(), height: this.chart.getHeight() });
    off.setOption(this.exportOptions(JSON.parse(this.specText)));
    const s = off.renderToSVGString();
    off.dispose();
    return s;
  }

  /** 'svg' (labels are page text) unless a chart has too many shapes for it. */
  protected renderer(_spec: any): 'svg' | 'canvas' { return 'svg'; }

  protected clicked(_p: any) {}
}

import type { ChartData } from './echarts-setup';
import { ChartElement, escapeHtml } from './echarts-setup';

/**
 * Horizontal bars, one per label. Spec: { title, labels, values, height, valueName, colorBySign }.
 * Positive values are drawn red and negative blue when colorBySign is set; values are written at the bar ends.
 */
class LoupeBars extends ChartElement {
  protected options(s: any): any {
    const values: number[] = s.values || [];
    // percent: values are percentages, written as the tables write them (12%, 3.4%)
    const fmt = s.percent ? (v: number) => (v < 0.05 ? '<0.1%' : `${v >= 9.95 ? v.toFixed(0) : v.toFixed(1)}%`)
      : (v: number) => (Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(s.digits ?? 3));
    const left = s.gridLeft ?? 110;
    return {
      animation: false,
      title: s.title ? { text: s.title, left: 'center', textStyle: { fontSize: 13, fontWeight: 'normal' } } : undefined,
      grid: { left, right: 60, top: s.title ? 36 : 10, bottom: 30 },
      // the label whole (the axis cuts long ones), wrapped
      tooltip: {
        trigger: 'axis', axisPointer: { type: 'shadow' }, confine: true,
        formatter: (ps: any) => {
          const p = Array.isArray(ps) ? ps[0] : ps;
          return `<div class="bar-tip" style="white-space: normal; max-width: 480px; overflow-wrap: anywhere">`
            + `${escapeHtml(String(s.labels?.[p.dataIndex] ?? ''))}<br><b>${fmt(p.value)}</b></div>`;
        },
      },
      xAxis: { type: 'value', name: s.valueName, nameLocation: 'middle', nameGap: 22,
        axisLabel: s.percent ? { formatter: (v: number) => `${v}%` } : undefined },
      // a label longer than the room left of the bars keeps its start, an ellipsis at the end
      yAxis: { type: 'category', data: s.labels, inverse: true,
        axisLabel: { interval: 0, fontSize: 11, width: left - 12, overflow: 'truncate', ellipsis: '…' } },
      series: [{
        type: 'bar',
        data: values.map((v) => ({
          value: v,
          itemStyle: { color: s.colorBySign ? (v >= 0 ? '#b2182b' : '#2166ac') : '#4575b4' },
        })),
        label: { show: true, position: 'right', fontSize: 10, formatter: (p: any) => fmt(p.value) },
      }],
    };
  }

  protected exportData(s: any): ChartData {
    const labels: string[] = s.labels || [];
    return { columns: ['label', s.valueName ?? 'value'], rows: labels.map((l, i) => [l, s.values?.[i] ?? null]),
      json: { title: s.title, valueName: s.valueName, labels, values: s.values } };
  }

  protected clicked(p: any) {
    if (p?.dataIndex === undefined) return;
    this.dispatchEvent(new CustomEvent('bar-click', { detail: { index: p.dataIndex } }));
  }
}

customElements.define('loupe-bars', LoupeBars);

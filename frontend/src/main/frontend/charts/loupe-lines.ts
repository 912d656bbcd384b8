import type { ChartData } from './echarts-setup';
import { ChartElement } from './echarts-setup';

/**
 * Lines over a shared numeric x axis, with a legend. Spec: { title, xName, yName, height,
 * series: [{ name, data: [[x, y], ...] }] }.
 */
class LoupeLines extends ChartElement {
  protected options(s: any): any {
    return {
      animation: false,
      title: s.title ? { text: s.title, left: 0, textStyle: { fontSize: 13, fontWeight: 'normal' } } : undefined,
      legend: { top: 0, right: 10, type: 'scroll' },
      grid: { left: 60, right: 24, top: 40, bottom: 48 },
      tooltip: { trigger: 'axis' },
      xAxis: { type: 'value', name: s.xName, nameLocation: 'middle', nameGap: 28, min: 'dataMin', max: 'dataMax' },
      yAxis: { type: 'value', name: s.yName, nameLocation: 'middle', nameGap: 44, scale: true },
      series: (s.series || []).map((l: any) => ({ type: 'line', name: l.name, data: l.data, showSymbol: true, symbolSize: 5 })),
    };
  }

  protected exportData(s: any): ChartData {
    const rows: (string | number)[][] = [];
    for (const l of s.series || []) for (const [x, y] of l.data) rows.push([l.name, x, y]);
    return { columns: ['series', s.xName ?? 'x', s.yName ?? 'y'], rows, json: { xName: s.xName, yName: s.yName, series: s.series } };
  }
}

customElements.define('loupe-lines', LoupeLines);

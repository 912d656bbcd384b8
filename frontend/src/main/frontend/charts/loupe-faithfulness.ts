import { ChartElement } from './echarts-setup';

/**
 * Faithfulness curves of a circuit: normalised faithfulness against the number of edges (log axis).
 * Spec: { series: [{ name, points: [[n, faithfulness], ...] }], marker (n of the shown set), height }.
 */
class LoupeFaithfulness extends ChartElement {
  protected options(s: any): any {
    const colors = ['#b2182b', '#2166ac', '#4d9221'];
    return {
      animation: false,
      legend: { top: 0 },
      grid: { left: 56, right: 24, top: 32, bottom: 44 },
      tooltip: { trigger: 'axis', valueFormatter: (v: number) => (typeof v === 'number' ? v.toFixed(3) : v) },
      xAxis: { type: 'log', name: 'edges in the circuit', nameLocation: 'middle', nameGap: 26, min: 1 },
      yAxis: { type: 'value', name: 'faithfulness', nameLocation: 'middle', nameGap: 40 },
      series: (s.series || []).map((x: any, i: number) => ({
        name: x.name, type: 'line', data: x.points, symbolSize: 6, lineStyle: { color: colors[i % 3] }, itemStyle: { color: colors[i % 3] },
        markLine: i === 0 && s.marker ? { symbol: 'none', silent: true, data: [{ xAxis: s.marker }], lineStyle: { color: '#888', type: 'dashed' }, label: { formatter: `shown: ${s.marker}` } } : undefined,
      })),
    };
  }
}

customElements.define('loupe-faithfulness', LoupeFaithfulness);

import { ChartElement } from './echarts-setup';

/**
 * Series over a numeric x axis: lines or bars. Spec: { title, x: number[], series: [{ name, values, kind: 'line' | 'bar',
 * highlight?: number[] (x values drawn in red) }], xName, yName, logY, height }. Null values leave gaps.
 */
class LoupeSeries extends ChartElement {
  protected options(s: any): any {
    const x: number[] = s.x || [];
    const series = (s.series || []).map((ser: any) => {
      const hi = new Set<number>(ser.highlight || []);
      return {
        name: ser.name,
        type: ser.kind === 'bar' ? 'bar' : 'line',
        showSymbol: false,
        connectNulls: false,
        data: (ser.values || []).map((v: number | null, i: number) => (ser.kind === 'bar'
          ? { value: [x[i], v], itemStyle: { color: hi.has(x[i]) ? '#b2182b' : '#4575b4' } }
          : [x[i], v])),
        barMaxWidth: 12,
      };
    });
    return {
      animation: false,
      title: s.title ? { text: s.title, left: 'center', textStyle: { fontSize: 13, fontWeight: 'normal' } } : undefined,
      legend: series.length > 1 ? { top: s.title ? 24 : 0, type: 'scroll' } : undefined,
      grid: { left: 60, right: 24, top: s.title ? (series.length > 1 ? 56 : 36) : 30, bottom: 44 },
      tooltip: { trigger: 'axis', valueFormatter: (v: number) => (v == null ? '–' : Number(v).toPrecision(4)) },
      xAxis: { type: 'value', name: s.xName, nameLocation: 'middle', nameGap: 26, min: s.xMin, max: s.xMax },
      yAxis: { type: s.logY ? 'log' : 'value', name: s.yName, nameLocation: 'middle', nameGap: 44 },
      series,
    };
  }
}

customElements.define('loupe-series', LoupeSeries);

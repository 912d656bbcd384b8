import { ChartElement } from './echarts-setup';

/**
 * Points with a y = x reference line. Spec: { title, points: [[x, y], ...], labels (tooltip per point),
 * xName, yName, height }.
 */
class LoupeScatter extends ChartElement {
  protected options(s: any): any {
    const pts: number[][] = s.points || [];
    let lo = 0, hi = 0;
    for (const [x, y] of pts) {
      lo = Math.min(lo, x, y);
      hi = Math.max(hi, x, y);
    }
    const pad = (hi - lo) * 0.05 || 1;
    const labels: string[] = s.labels || [];
    const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(2) : v.toFixed(4));
    return {
      animation: false,
      title: s.title ? { text: s.title, left: 'center', textStyle: { fontSize: 13, fontWeight: 'normal' } } : undefined,
      grid: { left: 70, right: 20, top: s.title ? 36 : 12, bottom: 50 },
      tooltip: {
        confine: true,
        formatter: (p: any) => (p.seriesIndex === 0
          ? `${labels[p.dataIndex] ?? ''}<br>estimate ${fmt(p.data[0])}<br>patched ${fmt(p.data[1])}` : 'y = x'),
      },
      xAxis: { type: 'value', name: s.xName, nameLocation: 'middle', nameGap: 28, min: lo - pad, max: hi + pad, axisLabel: { formatter: fmt } },
      yAxis: { type: 'value', name: s.yName, nameLocation: 'middle', nameGap: 52, min: lo - pad, max: hi + pad, axisLabel: { formatter: fmt } },
      series: [
        { type: 'scatter', data: pts, symbolSize: 6, itemStyle: { color: '#4575b4', opacity: 0.7 } },
        { type: 'line', data: [[lo - pad, lo - pad], [hi + pad, hi + pad]], symbol: 'none', lineStyle: { color: '#aaa', type: 'dashed' }, silent: true },
      ],
    };
  }
}

customElements.define('loupe-scatter', LoupeScatter);

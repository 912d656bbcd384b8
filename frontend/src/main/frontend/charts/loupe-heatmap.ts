import { ChartElement, escapeHtml } from './echarts-setup';

/**
 * A labelled heatmap. Spec: { title, xLabels, yLabels, xName, yName, values: rows of numbers (null = empty),
 * text: rows of cell labels (optional), tips: rows of tooltip lines (optional), min, max, diverging,
 * colors, height, labelSize }. Row 0 is drawn at the top. Clicking a cell fires `cell-click` with {x, y}.
 */
class LoupeHeatmap extends ChartElement {
  protected options(s: any): any {
    const data: any[] = [];
    const values: (number | null)[][] = s.values || [];
    for (let y = 0; y < values.length; y++) {
      for (let x = 0; x < values[y].length; x++) {
        const v = values[y][x];
        if (v !== null && v !== undefined) data.push([x, y, v]);
      }
    }
    const text: string[][] | undefined = s.text;
    const tips: string[][] | undefined = s.tips;
    const colors = s.colors || (s.diverging ? ['#2166ac', '#f7f7f7', '#b2182b'] : ['#f7fbff', '#6baed6', '#08306b']);
    const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3));
    return {
      animation: false,
      // with a legend (top right) the title goes to the left, so they never overlap
      title: s.title ? { text: s.title, left: s.legend ? 0 : 'center', textStyle: { fontSize: 13, fontWeight: 'normal' } } : undefined,
      grid: { left: s.gridLeft ?? 90, right: 20, top: s.title || s.legend ? 36 : 12, bottom: s.gridBottom ?? 70, containLabel: false },
      tooltip: {
        confine: true,
        formatter: (p: any) => {
          const [x, y, v] = p.data;
          const head = `${escapeHtml(String(s.yName || 'y'))} ${escapeHtml(String(s.yLabels?.[y] ?? y))} · `
            + `${escapeHtml(String(s.xName || 'x'))} ${escapeHtml(String(s.xLabels?.[x] ?? x))}`;
          const tip = tips?.[y]?.[x];
          const body = tip ? escapeHtml(tip).replace(/\n/g, '<br>') : fmt(v);
          return `<b>${head}</b><br>${body}`;
        },
      },
      xAxis: {
        type: 'category', data: s.xLabels, name: s.hideAxes ? undefined : s.xName, nameLocation: 'middle', nameGap: s.xNameGap ?? 52,
        splitArea: { show: false }, axisLabel: { show: !s.hideAxes, rotate: s.xRotate ?? 45, interval: s.labelInterval ?? 0, fontSize: 11 },
        axisTick: { show: !s.hideAxes },
      },
      yAxis: {
        type: 'category', data: s.yLabels, name: s.hideAxes ? undefined : s.yName, nameLocation: 'middle', nameGap: s.yNameGap ?? 70,
        inverse: true, axisLabel: { show: !s.hideAxes, interval: s.labelInterval ?? 0, fontSize: 11 }, axisTick: { show: !s.hideAxes },
      },
      visualMap: {
        min: s.min ?? 0, max: s.max ?? 1, calculable: false, show: s.legend ?? false, inRange: { color: colors },
        orient: 'horizontal', right: 10, top: 0, itemHeight: 100, itemWidth: 10,
        text: [fmt(s.max ?? 1), fmt(s.min ?? 0)], textStyle: { fontSize: 10 },
      },
      series: [{
        type: 'heatmap', data,
        label: {
          show: !!text, fontSize: s.labelSize ?? 10, color: '#000',
          formatter: (p: any) => (text ? (text[p.data[1]]?.[p.data[0]] ?? '') : ''),
          textBorderColor: '#fff', textBorderWidth: 2,
        },
        emphasis: { itemStyle: { borderColor: '#ff9800', borderWidth: 2 } },
      }],
    };
  }

  protected clicked(p: any) {
    if (!p?.data) return;
    this.dispatchEvent(new CustomEvent('cell-click', { detail: { x: p.data[0], y: p.data[1] } }));
  }
}

customElements.define('loupe-heatmap', LoupeHeatmap);

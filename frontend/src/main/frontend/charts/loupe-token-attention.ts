import { takeEarlyProperty } from './early-property';

/**
 * The prompt's tokens; hovering one colours every other token by how much the hovered token attends to it
 * (blue, upper row) and how much it attends to the hovered token (red, lower row). Spec: { tokens, pattern }
 * where pattern[q][k] is the attention of query q on key k.
 */
class LoupeTokenAttention extends HTMLElement {
  private data: { tokens: string[]; pattern: number[][] } = { tokens: [], pattern: [] };
  private rows: HTMLElement[][] = [];
  private summary?: HTMLElement;

  set spec(value: string) {
    this.data = value ? JSON.parse(value) : { tokens: [], pattern: [] };
    this.build();
  }

  connectedCallback() {
    const early = takeEarlyProperty(this, 'spec');
    if (early !== undefined) {
      this.spec = early;
      return;
    }
    this.build();
  }

  private build() {
    this.textContent = '';
    this.rows = [];
    const label = (t: string) => {
      const l = document.createElement('div');
      l.textContent = t;
      l.style.cssText = 'font-size: var(--lumo-font-size-s); color: var(--lumo-secondary-text-color); margin: 4px 0 2px;';
      return l;
    };
    const makeRow = (kind: string) => {
      const row = document.createElement('div');
      row.className = `token-row ${kind}`;
      row.style.cssText = 'display: flex; flex-wrap: wrap; gap: 2px; font-family: monospace;';
      const cells: HTMLElement[] = [];
      this.data.tokens.forEach((t, i) => {
        const s = document.createElement('span');
        s.className = 'tok';
        s.dataset.pos = String(i);
        s.textContent = t;
        s.style.cssText = 'padding: 2px 4px; border: 1px solid var(--lumo-contrast-20pct); border-radius: 3px; cursor: default; white-space: pre;';
        s.addEventListener('mouseenter', () => this.hover(i));
        cells.push(s);
        row.appendChild(s);
      });
      this.rows.push(cells);
      return row;
    };
    this.appendChild(label('Where the hovered token attends (query → keys)'));
    this.appendChild(makeRow('attends-to'));
    this.appendChild(label('What attends to the hovered token (queries → key)'));
    this.appendChild(makeRow('attended-by'));
    this.summary = document.createElement('div');
    this.summary.className = 'attention-summary';
    this.summary.style.cssText = 'margin-top: 6px; font-size: var(--lumo-font-size-s);';
    this.summary.textContent = 'Hover a token.';
    this.appendChild(this.summary);
  }

  private hover(i: number) {
    const p = this.data.pattern;
    const n = this.data.tokens.length;
    let bestTo = 0, bestBy = i;
    for (let k = 0; k < n; k++) {
      const to = k <= i ? p[i]?.[k] ?? 0 : 0;
      const by = k >= i ? p[k]?.[i] ?? 0 : 0;
      if (to > (p[i]?.[bestTo] ?? 0)) bestTo = k;
      if (by > (p[bestBy]?.[i] ?? 0)) bestBy = k;
      this.paint(this.rows[0][k], to, '33, 102, 172', k === i);
      this.paint(this.rows[1][k], by, '178, 24, 43', k === i);
    }
    const t = this.data.tokens;
    this.summary!.textContent = `“${t[i]}” (position ${i}) attends most to “${t[bestTo]}” (position ${bestTo}, `
      + `${(p[i]?.[bestTo] ?? 0).toFixed(3)}); attended most by “${t[bestBy]}” (position ${bestBy}, `
      + `${(p[bestBy]?.[i] ?? 0).toFixed(3)})`;
  }

  private paint(el: HTMLElement, w: number, rgb: string, self: boolean) {
    el.style.background = `rgba(${rgb}, ${Math.min(1, Math.max(0, w)).toFixed(3)})`;
    el.style.color = w > 0.55 ? '#fff' : '';
    el.style.outline = self ? '2px solid #ff9800' : '';
    el.title = w.toFixed(3);
  }
}

customElements.define('loupe-token-attention', LoupeTokenAttention);

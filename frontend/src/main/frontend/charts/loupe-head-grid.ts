import { takeEarlyProperty } from './early-property';

/**
 * Every head's attention pattern at once, as small pictures (one pixel per query × key, darker is more attention),
 * drawn straight into canvases so hundreds of thousands of cells cost milliseconds. Hovering a head shows it large
 * in the preview; clicking one locks it there and fires `head-click` with { layer, head }.
 * Spec: { n, tokens, heads: [{ layer, head, label, pattern: base64 of the causal half, row q's keys 0..q
 * (n(n+1)/2 bytes), 255 = attention 1 }], selected:
 * "layer.head", preview: boolean }.
 */
class LoupeHeadGrid extends HTMLElement {
  private data: any = { n: 0, heads: [] };
  private previewCanvas?: HTMLCanvasElement;
  private previewLabel?: HTMLElement;
  private locked: string | null = null;
  private pixels = new Map<string, Uint8Array>();

  set spec(value: string) {
    this.data = value ? JSON.parse(value) : { n: 0, heads: [] };
    this.build();
  }

  connectedCallback() {
    const early = takeEarlyProperty(this, 'spec');
    if (early !== undefined) this.spec = early;
  }

  /** The n × n pattern from its causal half (row q's keys 0..q, in order); the keys after a query are 0. */
  private static unpack(n: number, packed: string): Uint8Array {
    const out = new Uint8Array(n * n);
    for (let q = 0, i = 0; q < n; q++) for (let k = 0; k <= q; k++) out[q * n + k] = packed.charCodeAt(i++);
    return out;
  }

  private static draw(canvas: HTMLCanvasElement, n: number, p: Uint8Array) {
    canvas.width = n;
    canvas.height = n;
    const ctx = canvas.getContext('2d')!;
    const img = ctx.createImageData(n, n);
    for (let q = 0; q < n; q++) {
      for (let k = 0; k < n; k++) {
        const i = q * n + k, o = i * 4;
        if (k > q) { // keys after the query: masked, drawn light grey
          img.data[o] = 240; img.data[o + 1] = 240; img.data[o + 2] = 240;
        } else { // white to dark blue (#08306b)
          const w = p[i] / 255;
          img.data[o] = 255 - w * (255 - 8); img.data[o + 1] = 255 - w * (255 - 48); img.data[o + 2] = 255 - w * (255 - 107);
        }
        img.data[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
  }

  private build() {
    this.textContent = '';
    this.pixels.clear();
    const n = this.data.n;
    const grid = document.createElement('div');
    grid.className = 'thumbs';
    grid.style.cssText = 'display: grid; grid-template-columns: repeat(auto-fill, minmax(120px, 1fr)); gap: 8px; flex: 1;';
    this.locked = this.data.selected ?? null;
    for (const h of this.data.heads) {
      const key = `${h.layer}.${h.head}`;
      const bytes = LoupeHeadGrid.unpack(n, atob(h.pattern));
      this.pixels.set(key, bytes);
      const cell = document.createElement('div');
      cell.className = 'head-map';
      cell.dataset.head = String(h.head);
      cell.dataset.layer = String(h.layer);
      cell.style.cssText = 'cursor: pointer; text-align: center; font-size: var(--lumo-font-size-xs);';
      const c = document.createElement('canvas');
      c.style.cssText = 'width: 100%; aspect-ratio: 1; image-rendering: pixelated; border: 1px solid var(--lumo-contrast-20pct);';
      if (key === this.locked) c.style.outline = '2px solid var(--lumo-primary-color)';
      LoupeHeadGrid.draw(c, n, bytes);
      const label = document.createElement('div');
      label.textContent = h.label;
      cell.append(c, label);
      cell.addEventListener('mouseenter', () => this.showPreview(key, h.label));
      cell.addEventListener('click', () => {
        this.locked = key;
        for (const el of grid.querySelectorAll('canvas')) (el as HTMLElement).style.outline = '';
        c.style.outline = '2px solid var(--lumo-primary-color)';
        this.showPreview(key, h.label);
        this.dispatchEvent(new CustomEvent('head-click', { detail: { layer: h.layer, head: h.head } }));
      });
      grid.appendChild(cell);
    }
    if (this.data.preview) {
      const wrap = document.createElement('div');
      wrap.style.cssText = 'display: flex; gap: 16px; align-items: flex-start;';
      const side = document.createElement('div');
      side.className = 'preview';
      side.style.cssText = 'width: 360px; flex: none;';
      this.previewLabel = document.createElement('div');
      this.previewLabel.className = 'preview-label';
      this.previewCanvas = document.createElement('canvas');
      this.previewCanvas.style.cssText = 'width: 360px; height: 360px; image-rendering: pixelated; border: 1px solid var(--lumo-contrast-20pct);';
      side.append(this.previewLabel, this.previewCanvas);
      wrap.append(side, grid);
      this.appendChild(wrap);
      grid.addEventListener('mouseleave', () => {
        const l = this.data.heads.find((h: any) => `${h.layer}.${h.head}` === this.locked) ?? this.data.heads[0];
        if (l) this.showPreview(`${l.layer}.${l.head}`, l.label);
      });
      const first = this.data.heads.find((h: any) => `${h.layer}.${h.head}` === this.locked) ?? this.data.heads[0];
      if (first) this.showPreview(`${first.layer}.${first.head}`, first.label);
    } else {
      this.appendChild(grid);
    }
    this.dataset.rendered = String(Number(this.dataset.rendered || '0') + 1);
  }

  private showPreview(key: string, label: string) {
    if (!this.previewCanvas || !this.previewLabel) return;
    const p = this.pixels.get(key);
    if (!p) return;
    LoupeHeadGrid.draw(this.previewCanvas, this.data.n, p);
    this.previewLabel.textContent = `${label}${key === this.locked ? ' (locked)' : ''}`;
    this.dataset.preview = key;
  }
}

customElements.define('loupe-head-grid', LoupeHeadGrid);

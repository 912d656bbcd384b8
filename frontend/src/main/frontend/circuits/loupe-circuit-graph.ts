import cytoscape from 'cytoscape';
import { takeEarlyProperty } from '../charts/early-property';

/**
 * A circuit as a Cytoscape graph laid out by layer: input at the bottom, each layer's heads then its MLP above,
 * logits at the top. Edges are coloured by the sign of their score (red positive, blue negative) and sized by |score|;
 * q, k and v edges into a head are dashed, solid and dotted.
 *
 * Spec (JSON from Java): { nodes: [{id, label, row, col, cols}], edges: [{from, to, part, name, score}], maxAbs,
 * pinned: [id], hidden: [id], group: [id], height }. Nodes without a shown edge are left out unless pinned.
 * Events: `node-click` {id}. Methods: exportImage('png' | 'svg', fileName).
 */
class LoupeCircuitGraph extends HTMLElement {
  cy?: cytoscape.Core;
  private box?: HTMLDivElement;
  private tip?: HTMLDivElement;
  private specText = '';

  set spec(v: string) { this.specText = v || ''; this.render(); }
  get spec(): string { return this.specText; }

  connectedCallback() {
    const early = takeEarlyProperty(this, 'spec');
    if (early !== undefined) this.specText = early;
    if (!this.box) {
      this.style.display = 'block';
      this.style.position = 'relative';
      this.box = document.createElement('div');
      this.box.style.cssText = 'width:100%;height:100%;';
      this.tip = document.createElement('div');
      this.tip.className = 'circuit-tip';
      this.tip.style.cssText = 'position:absolute;display:none;pointer-events:none;background:#fff;border:1px solid #999;'
        + 'padding:4px 8px;font:12px sans-serif;border-radius:4px;box-shadow:0 1px 4px rgba(0,0,0,.2);z-index:5;white-space:nowrap';
      this.append(this.box, this.tip);
    }
    this.render();
  }

  disconnectedCallback() { this.cy?.destroy(); this.cy = undefined; }

  private render() {
    if (!this.box || !this.isConnected || !this.specText) return;
    const s = JSON.parse(this.specText);
    this.style.height = `${s.height || 640}px`;
    const hidden = new Set<string>(s.hidden || []), pinned = new Set<string>(s.pinned || []), group = new Set<string>(s.group || []);
    const edges = (s.edges || []).filter((e: any) => !hidden.has(e.from) && !hidden.has(e.to));
    const used = new Set<string>(pinned);
    edges.forEach((e: any) => { used.add(e.from); used.add(e.to); });
    const width = Math.max(600, this.clientWidth || 1000), rows = Math.max(...s.nodes.map((n: any) => n.row)) || 1;
    const rowGap = (s.height - 80) / rows;
    const totals: Record<string, { in: number; out: number }> = {};
    edges.forEach((e: any) => {
      (totals[e.to] ||= { in: 0, out: 0 }).in += e.score;
      (totals[e.from] ||= { in: 0, out: 0 }).out += e.score;
    });
    const els: any[] = [];
    if (group.size) els.push({ data: { id: '__group', label: `group (${group.size})` }, classes: 'group' });
    for (const n of s.nodes) {
      if (hidden.has(n.id) || !used.has(n.id)) continue;
      els.push({
        data: { id: n.id, label: n.label, parent: group.has(n.id) ? '__group' : undefined },
        position: { x: 40 + (width - 80) * (n.col + 0.5) / n.cols, y: 40 + (rows - n.row) * rowGap },
        classes: [n.kind, pinned.has(n.id) ? 'pinned' : ''].join(' '),
      });
    }
    const maxAbs = s.maxAbs || 1;
    edges.forEach((e: any, i: number) => els.push({
      data: { id: `e${i}`, source: e.from, target: e.to, name: e.name, score: e.score,
        w: 1 + 7 * Math.abs(e.score) / maxAbs, color: e.score >= 0 ? '#b2182b' : '#2166ac' },
      classes: e.part || 'plain',
    }));
    this.cy?.destroy();
    this.cy = cytoscape({
      container: this.box, elements: els, layout: { name: 'preset' }, wheelSensitivity: 0.3, autoungrabify: false,
      style: [
        { selector: 'node', style: { label: 'data(label)', 'font-size': 11, 'text-valign': 'center', 'text-halign': 'center',
          width: 46, height: 24, shape: 'round-rectangle', 'background-color': '#eef2f7', 'border-width': 1, 'border-color': '#7a869a' } },
        { selector: 'node.mlp', style: { 'background-color': '#f3eee2', shape: 'rectangle' } },
        { selector: 'node.input, node.logits', style: { width: 70, 'background-color': '#e8e8e8', 'font-weight': 'bold' } },
        { selector: 'node.pinned', style: { 'border-width': 3, 'border-color': '#ff9800' } },
        { selector: 'node.group', style: { 'background-color': '#fff8e1', 'background-opacity': 0.5, 'border-style': 'dashed',
          'text-valign': 'top', label: 'data(label)', 'font-size': 11 } },
        { selector: 'edge', style: { width: 'data(w)', 'line-color': 'data(color)', 'target-arrow-color': 'data(color)',
          'target-arrow-shape': 'triangle', 'arrow-scale': 0.8, 'curve-style': 'bezier', opacity: 0.8 } },
        { selector: 'edge.q', style: { 'line-style': 'dashed' } },
        { selector: 'edge.v', style: { 'line-style': 'dotted' } },
      ] as any,
    });
    this.cy.fit(undefined, 20);
    this.cy.on('tap', 'node', (ev) => {
      const id = ev.target.id();
      if (id !== '__group') this.dispatchEvent(new CustomEvent('node-click', { detail: { id } }));
    });
    this.cy.on('mouseover', 'node', (ev) => {
      const id = ev.target.id(), t = totals[id] || { in: 0, out: 0 };
      if (!this.tip || id === '__group') return;
      this.tip.innerHTML = `<b>${id}</b><br>into it: ${t.in.toFixed(4)}<br>out of it: ${t.out.toFixed(4)}<br>`
        + `${ev.target.connectedEdges().length} shown edges`;
      const p = ev.renderedPosition || ev.target.renderedPosition();
      this.tip.style.left = `${p.x + 16}px`;
      this.tip.style.top = `${p.y + 8}px`;
      this.tip.style.display = 'block';
    });
    this.cy.on('mouseout', 'node', () => { if (this.tip) this.tip.style.display = 'none'; });
    this.cy.on('mouseover', 'edge', (ev) => {
      if (!this.tip) return;
      this.tip.innerHTML = `${ev.target.data('name')}<br>score ${Number(ev.target.data('score')).toFixed(5)}`;
      const p = ev.renderedPosition;
      this.tip.style.left = `${p.x + 12}px`;
      this.tip.style.top = `${p.y + 8}px`;
      this.tip.style.display = 'block';
    });
    this.cy.on('mouseout', 'edge', () => { if (this.tip) this.tip.style.display = 'none'; });
    this.dataset.nodes = String(this.cy.nodes().filter((n) => n.id() !== '__group').length);
    this.dataset.edges = String(edges.length);
    this.dataset.rendered = String(Number(this.dataset.rendered || '0') + 1);
  }

  /** Downloads the graph as a PNG (Cytoscape's renderer) or an SVG (nodes, edges and labels as vector shapes). */
  exportImage(kind: string, fileName: string) {
    if (!this.cy) return;
    const url = kind === 'png'
      ? this.cy.png({ full: true, scale: 2, bg: '#ffffff' })
      : URL.createObjectURL(new Blob([this.svg()], { type: 'image/svg+xml' }));
    const a = document.createElement('a');
    a.href = url;
    a.download = fileName;
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  svg(): string {
    const cy = this.cy!, bb = cy.elements().boundingBox({}), pad = 20;
    const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
    const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${bb.w + 2 * pad}" height="${bb.h + 2 * pad}" `
      + `viewBox="${bb.x1 - pad} ${bb.y1 - pad} ${bb.w + 2 * pad} ${bb.h + 2 * pad}" font-family="sans-serif" font-size="11">`,
      `<rect x="${bb.x1 - pad}" y="${bb.y1 - pad}" width="${bb.w + 2 * pad}" height="${bb.h + 2 * pad}" fill="#fff"/>`];
    cy.edges().forEach((e) => {
      const a = e.source().position(), b = e.target().position();
      const dash = e.hasClass('q') ? ' stroke-dasharray="6 4"' : e.hasClass('v') ? ' stroke-dasharray="2 3"' : '';
      out.push(`<line x1="${a.x}" y1="${a.y}" x2="${b.x}" y2="${b.y}" stroke="${e.data('color')}" stroke-width="${e.data('w')}" opacity="0.8"${dash}><title>${esc(e.data('name'))} ${e.data('score')}</title></line>`);
    });
    cy.nodes().forEach((n) => {
      if (n.id() === '__group') return;
      const p = n.position(), w = n.width(), h = n.height();
      out.push(`<rect x="${p.x - w / 2}" y="${p.y - h / 2}" width="${w}" height="${h}" rx="4" fill="#eef2f7" stroke="${n.hasClass('pinned') ? '#ff9800' : '#7a869a'}"/>`,
        `<text x="${p.x}" y="${p.y + 4}" text-anchor="middle">${esc(n.data('label'))}</text>`);
    });
    out.push('</svg>');
    return out.join('\n');
  }
}

customElements.define('loupe-circuit-graph', LoupeCircuitGraph);

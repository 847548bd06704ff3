// chart: a uPlot line chart as a Preact component. uPlot draws on a canvas and
// styles its own elements through the DOM (allowed by the console's CSP).
import uPlot from '../vendor/uPlot.mjs';
import { html, useEffect, useRef } from './ui.js';

// data: [xs (unix seconds), ys1, ys2...]; series: [{label, stroke, dots}]. The figure
// carries data-chart=name and data-points (the values drawn, nulls left out):
// what a test can read of a canvas.
export function Chart({ title, data, series, unit, name }) {
  const box = useRef(null), plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const opts = {
      width: Math.max(200, el.clientWidth), height: 180,
      // dots: every value drawn as a point and the gaps (null: nothing that
      // minute) spanned, so a lone minute with sends still shows
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2,
        ...(s.dots ? { points: { show: true, size: 6, fill: s.stroke }, spanGaps: true } : {}),
        value: (u, v) => (v === null || v === undefined ? '—' : v.toFixed(v < 10 ? 1 : 0) + ' ' + unit) }))],
      axes: [{}, { size: 50, values: (u, vals) => vals.map((v) => v + (unit === 'ms' ? '' : '')) }],
      // from 0: an auto range (1504 to 1510 ms) would make a flat line look steep
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      legend: { live: true },
    };
    plot.current = new uPlot(opts, data, el);
    const ro = new ResizeObserver(() => plot.current && plot.current.setSize({ width: Math.max(200, el.clientWidth), height: 180 }));
    ro.observe(el);
    return () => { ro.disconnect(); plot.current.destroy(); plot.current = null; };
  }, []);
  useEffect(() => { if (plot.current) plot.current.setData(data); }, [data]);
  const points = data.slice(1).reduce((n, ys) => n + ys.filter((v) => v !== null && v !== undefined).length, 0);
  return html`<figure class="chart" data-chart=${name} data-points=${points}><figcaption>${title}</figcaption><div ref=${box} role="img" aria-label=${title}></div></figure>`;
}

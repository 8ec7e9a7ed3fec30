// The tracker chart (uPlot): loaded by import() only on a page that shows a
// chart, so neither uPlot nor its CSS is in the app's first load (docs/web.md).
// The canvas says nothing to a screen reader: the page names it (role="img",
// aria-label) and gives the same numbers as a table.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartData {
  dates: string[]; // the buckets' local start dates, YYYY-MM-DD
  values: (number | null)[]; // null: an empty bucket, a gap
  label: string; // what the values are ("Sum (km)")
  bucket: 'day' | 'week' | 'month';
}

const height = 240;

// Draws the chart into el (emptied first), as wide as el; it follows the
// window's width while el is on the page.
export function drawChart(el: HTMLElement, d: ChartData): void {
  el.replaceChildren();
  // The bucket's date at midnight UTC, shown in UTC: the axis shows the date itself.
  const xs = d.dates.map((s) => Date.UTC(+s.slice(0, 4), +s.slice(5, 7) - 1, +s.slice(8, 10)) / 1000);
  const width = () => Math.max(200, el.clientWidth || 600);
  const opts: uPlot.Options = {
    width: width(),
    height,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    legend: { show: false },
    cursor: { show: false },
    scales: {
      x: { time: true },
      y: {
        // From 0 (or the lowest negative value) to a little above the highest.
        range: (_u, min, max) => {
          const lo = Math.min(0, min ?? 0);
          const hi = Math.max(0, max ?? 0);
          return [lo, hi === lo ? lo + 1 : hi + (hi - lo) * 0.1];
        },
      },
    },
    axes: [
      { values: d.bucket === 'month' ? '{YYYY}-{MM}' : '{YYYY}-{MM}-{DD}', space: 90 },
      { label: d.label, size: 60 },
    ],
    series: [
      {},
      {
        label: d.label,
        stroke: '#0645ad',
        fill: 'rgba(6, 69, 173, 0.35)',
        width: 1,
        paths: uPlot.paths.bars!({ size: [0.7, 64], align: 0 }),
        points: { show: false },
      },
    ],
  };
  const chart = new uPlot(opts, [xs, d.values], el);
  const resize = () => {
    if (!el.isConnected) {
      window.removeEventListener('resize', resize);
      chart.destroy();
      return;
    }
    chart.setSize({ width: width(), height });
  };
  window.addEventListener('resize', resize);
}

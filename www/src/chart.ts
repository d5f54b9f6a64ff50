// A stacked bar chart of billable / development / failed events per bucket, with
// uPlot: the options are built once, data is fed as columns, `setData` refreshes.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Columns {
  /** Bucket starts, ms since the epoch. */
  starts: number[];
  billable: number[];
  development: number[];
  failed: number[];
}

const COLORS = { billable: '#2f6fdf', development: '#9aa5b1', failed: '#d64545' };

export class StackedBars {
  private plot: uPlot | null = null;
  private raw: number[][] = [];

  constructor(private readonly container: HTMLElement) {
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(container);
  }

  /** Shows `columns`, hourly or daily. */
  show(columns: Columns, hourly: boolean): void {
    // Failed at the bottom, then development, then billable: each series is drawn
    // as the running sum, the tallest first, so the bars stack.
    const failed = columns.failed;
    const development = columns.development.map((v, i) => v + (failed[i] ?? 0));
    const billable = columns.billable.map((v, i) => v + (development[i] ?? 0));
    this.raw = [[], columns.billable, columns.development, columns.failed];
    const data: uPlot.AlignedData = [columns.starts.map((ms) => ms / 1000), billable, development, failed];
    if (this.plot && this.plot.series[0]?.label === (hourly ? 'hour' : 'day')) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plot = new uPlot(this.options(hourly), data, this.container);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(320, this.container.clientWidth), height: 260 };
  }

  private options(hourly: boolean): uPlot.Options {
    const bars = uPlot.paths.bars!({ size: [0.7, 40], align: 0 });
    const series = (label: keyof typeof COLORS, index: number): uPlot.Series => ({
      label,
      fill: COLORS[label],
      stroke: COLORS[label],
      width: 0,
      paths: bars,
      points: { show: false },
      value: (_plot, _value, _series, dataIndex) => (dataIndex == null ? '–' : String(this.raw[index]?.[dataIndex] ?? 0)),
    });
    return {
      ...this.size(),
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max)] } },
      axes: [{}, { label: 'events', values: (_u, ticks) => ticks.map((t) => (Number.isInteger(t) ? String(t) : '')) }],
      series: [
        { label: hourly ? 'hour' : 'day', value: (_u, ts) => (ts == null ? '–' : new Date(ts * 1000).toISOString().slice(0, hourly ? 16 : 10).replace('T', ' ')) },
        series('billable', 1),
        series('development', 2),
        series('failed', 3),
      ],
    };
  }
}

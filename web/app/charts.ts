// Live charts (uPlot), one per metric as it first appears: loss, eval loss, learning rate, grad
// norm, tokens/s, memory and whatever the method reports (rewards/margins, ...). x is the step.
import uPlot from 'uplot';

interface Series { plot: uPlot; x: number[]; y: number[] }

export class Charts {
  private series = new Map<string, Series>();
  constructor(private readonly host: HTMLElement) {}

  clear(): void {
    for (const s of this.series.values()) s.plot.destroy();
    this.series.clear();
    this.host.textContent = '';
  }

  add(name: string, step: number, value: number | null): void {
    if (value === null || !Number.isFinite(value)) return;
    let s = this.series.get(name);
    if (!s) {
      const box = document.createElement('div');
      box.className = 'chart';
      box.dataset.metric = name;
      const title = document.createElement('h4');
      title.textContent = name;
      box.append(title);
      this.host.append(box);
      const plot = new uPlot({
        width: 330, height: 150, legend: { show: false }, cursor: { show: true },
        scales: { x: { time: false } },
        axes: [{ size: 28 }, { size: 56 }],
        series: [{}, { label: name, stroke: '#2f6fde', width: 1.5, points: { show: true, size: 4 } }],
      }, [[], []], box);
      s = { plot, x: [], y: [] };
      this.series.set(name, s);
    }
    s.x.push(step);
    s.y.push(value);
    s.plot.setData([s.x, s.y]);
  }

  /** Points per chart, for the page state the tests read. */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.series].map(([k, s]) => [k, s.x.length]));
  }
}

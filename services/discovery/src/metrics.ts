/**
 * Counters for GET /metrics, rendered in the Prometheus text format. Labels are a closed set
 * (message types, drop reasons, decline reasons) so a hostile peer cannot grow the series.
 */
export class Metrics {
  private readonly counters = new Map<string, { help: string; values: Map<string, number> }>();
  /** Read at each render: gauges, and counters someone else keeps (the kernel's socket drops). */
  private readonly readers = new Map<string, { help: string; type: 'gauge' | 'counter'; read: () => number }>();

  inc(name: string, help: string, labels: Record<string, string> = {}, by = 1): void {
    let c = this.counters.get(name);
    if (!c) this.counters.set(name, (c = { help, values: new Map() }));
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${v.replace(/["\\\n]/g, '_')}"`)
      .join(',');
    c.values.set(key, (c.values.get(key) ?? 0) + by);
  }

  gauge(name: string, help: string, read: () => number): void {
    this.readers.set(name, { help, type: 'gauge', read });
  }

  /** A counter whose value lives elsewhere and only goes up (e.g. /proc/net/udp drops). */
  counterFrom(name: string, help: string, read: () => number): void {
    this.readers.set(name, { help, type: 'counter', read });
  }

  get(name: string, labels: Record<string, string> = {}): number {
    const key = Object.entries(labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    const r = this.readers.get(name);
    if (r && !key) return r.read();
    return this.counters.get(name)?.values.get(key) ?? 0;
  }

  has(name: string): boolean {
    return this.counters.has(name) || this.readers.has(name);
  }

  render(): string {
    const out: string[] = [];
    for (const [name, c] of this.counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [k, v] of c.values) out.push(`${name}${k ? `{${k}}` : ''} ${v}`);
    }
    for (const [name, r] of this.readers) out.push(`# HELP ${name} ${r.help}`, `# TYPE ${name} ${r.type}`, `${name} ${r.read()}`);
    return out.join('\n') + '\n';
  }
}

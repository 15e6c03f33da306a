import { BenchResult, result } from './report';

/**
 * What read-your-writes cost a service during a run, from its `read_your_writes_seconds` histogram
 * (/metrics) read before and after: each call to the owners for what they committed, and each wait
 * until its inbox had applied it (beyond the look that found it behind).
 */
export class ReadYourWritesMeter {
  private constructor(
    private readonly url: string,
    private readonly before: Map<string, number>,
  ) {}

  static async start(serviceUrl: string): Promise<ReadYourWritesMeter> {
    const url = `${serviceUrl}/metrics`;
    return new ReadYourWritesMeter(url, await ReadYourWritesMeter.read(url));
  }

  /** The histogram's series (`<name>{step,le}` → value) that this meter reads. */
  private static async read(url: string): Promise<Map<string, number>> {
    const text = await (await fetch(url)).text();
    const series = new Map<string, number>();
    for (const m of text.matchAll(/^read_your_writes_seconds_(count|sum|bucket)\{([^}]*)\} (\S+)$/gm)) {
      const step = /step="(\w+)"/.exec(m[2])?.[1];
      const le = /le="([^"]+)"/.exec(m[2])?.[1];
      series.set(`${m[1]}:${step}:${le ?? ''}`, Number(m[3]));
    }
    return series;
  }

  async rows(scenario: string): Promise<BenchResult[]> {
    const after = await ReadYourWritesMeter.read(this.url);
    const delta = (key: string) => (after.get(key) ?? 0) - (this.before.get(key) ?? 0);
    const mean = (step: string) => (delta(`count:${step}:`) ? (delta(`sum:${step}:`) / delta(`count:${step}:`)) * 1000 : 0);
    const behind = delta('count:apply:') ? (1 - delta('bucket:apply:0.001') / delta('count:apply:')) * 100 : 0;
    return [
      result(scenario, "read-your-writes: the owners' answer, mean per call to them", mean('ask'), 'ms'),
      result(scenario, "read-your-writes: the wait for the inbox, mean per wait", mean('apply'), 'ms'),
      result(scenario, 'read-your-writes: waits that found the inbox behind', behind, '%'),
    ];
  }
}

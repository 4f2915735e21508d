using System.Globalization;
using System.Text;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Compare;

/// <summary>The comparison as Markdown: absolute figures per target, Tollgate's ratios to each reference, the targets.</summary>
internal static class Report
{
    /// <summary>RSS under load must stay below this.</summary>
    public const long MaxRssUnderLoad = 150L * 1024 * 1024;

    /// <summary>The streaming gap Tollgate may add per chunk and still count as noise.</summary>
    public const double GapNoiseMs = 0.5;

    private const string PortkeyStreamNote =
        " — Portkey 1.15.2 on Node 20 answers every stream with this 500 here (its log: `tryTargetsRecursively error: immutable TypeError: immutable`"
        + " in `updateHeaders`, whatever the upstream's SSE content type); its streaming figures are missing, not slow.";

    public static string Build(CompareResults r)
    {
        var md = new StringBuilder();
        var s = r.Settings;
        md.AppendLine(CultureInfo.InvariantCulture, $"# Tollgate vs direct, nginx and Portkey — {r.Started:yyyy-MM-dd HH:mm} UTC");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {r.Machine.Cores} cores, {r.Machine.Memory} RAM, {r.Machine.Os}, {r.Machine.DotNet}; load average at start {r.Machine.LoadAverage}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- References: {r.Versions["nginx"]} (nginx-light, worker_processes auto, keep-alive upstream, buffering off); {r.Versions["Portkey"]} on node {r.Versions["node"]}{(s.SkipPortkey ? " — skipped in this run" : "")}; load by {r.Versions["wrk"]}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Tollgate: Release build, SQLite (WAL) in a fresh file, a real key, credits, model priced $1/M prompt and $2/M completion tokens, usage records and ledger on every request");
        md.AppendLine(CultureInfo.InvariantCulture, $"- Method: {s.Rounds} round(s) × {s.Round.TotalSeconds:0} s per target and setting, interleaved {string.Join(" → ", r.Targets)}, figures are the median of the rounds; warm-up {s.Warmup.TotalSeconds:0} s per target; {(s.Quick ? "**quick smoke settings: not a result**; " : "")}run took {r.Elapsed.TotalMinutes:0.0} min");
        md.AppendLine();

        md.AppendLine("## Added latency at concurrency 1 (zero-delay upstream, wrk -t1 -c1)");
        md.AppendLine();
        md.AppendLine("| target | req/s | p50 | p99 | added p50 | added p99 | errors |");
        md.AppendLine("|---|---|---|---|---|---|---|");
        var direct = r.C1[Target.Direct];
        foreach (var name in r.Targets)
        {
            var f = r.C1[name];
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {f.RequestsPerSecond:N0} | {Us(f.P50Us)} | {Us(f.P99Us)} | {(name == Target.Direct ? "—" : Us(f.P50Us - direct.P50Us))} | {(name == Target.Direct ? "—" : Us(f.P99Us - direct.P99Us))} | {f.Errors:N0} |");
        }

        md.AppendLine();
        md.AppendLine("## Throughput (zero-delay upstream, wrk -t2)");
        md.AppendLine();
        md.AppendLine("| target | c=32 req/s | c=32 p50 | c=32 p99 | c=128 req/s | c=128 p50 | c=128 p99 | errors |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (var name in r.Targets)
        {
            var a = r.C32[name];
            var b = r.C128[name];
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {a.RequestsPerSecond:N0} | {Us(a.P50Us)} | {Us(a.P99Us)} | {b.RequestsPerSecond:N0} | {Us(b.P50Us)} | {Us(b.P99Us)} | {a.Errors + b.Errors:N0} |");
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Throughput at p99 ≤ {CompareSettings.SlowP99Bound.TotalMilliseconds:0} ms ({FakeUpstreams.SlowDelayMs} ms upstream)");
        md.AppendLine();
        md.AppendLine("| target | best req/s | at concurrency | p99 there | levels tried (connections: req/s, p99) |");
        md.AppendLine("|---|---|---|---|---|");
        foreach (var name in r.Targets)
        {
            var step = r.Slow[name];
            var tried = string.Join("; ", step.Levels.Select(l =>
                $"{l.Connections}: {l.Figures.RequestsPerSecond:N0}, {Us(l.Figures.P99Us)}{(l.Figures.Errors > 0 ? $", {l.Figures.Errors:N0} errors" : "")}"));
            md.AppendLine(step.Best is { } best
                ? $"| {name} | {best.Figures.RequestsPerSecond:N0} | {best.Connections} | {Us(best.Figures.P99Us)} | {tried} |"
                : $"| {name} | none | — | — | {tried} |");
        }

        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"## Streaming ({FakeUpstreams.StreamChunks} chunks {FakeUpstreams.StreamGapMs} ms apart, {s.Streams} streams per target)");
        md.AppendLine();
        md.AppendLine("| target | streams ok | content events per stream | TTFT p50 | added TTFT | mean gap | added gap | p99 gap |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        var directStream = r.Streaming[Target.Direct];
        foreach (var name in r.Targets)
        {
            var f = r.Streaming[name];
            var isDirect = name == Target.Direct;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {name} | {f.Succeeded}/{f.Streams.Count} | {(double.IsNaN(f.ContentEventsPerStream) ? "—" : f.ContentEventsPerStream.ToString("0.#", CultureInfo.InvariantCulture))} | {Ms(f.TtftP50Ms)} | {(isDirect ? "—" : Ms(f.TtftP50Ms - directStream.TtftP50Ms))} | {Ms(f.GapMeanMs, 3)} | {(isDirect ? "—" : Ms(f.GapMeanMs - directStream.GapMeanMs, 3))} | {Ms(f.GapP99Ms)} |");
        }

        foreach (var name in r.Targets)
        {
            if (r.Streaming[name].FirstError is { } error)
            {
                md.AppendLine();
                md.AppendLine(CultureInfo.InvariantCulture, $"{name}'s first failed stream: `{error}`{(name == Target.Portkey ? PortkeyStreamNote : "")}");
            }
        }

        md.AppendLine();
        md.AppendLine("## Memory (RSS; nginx = master + workers)");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"| process | after start | idle after warm-up | peak during c=128 | peak over the run | {s.After.TotalSeconds:0} s after load |");
        md.AppendLine("|---|---|---|---|---|---|");
        foreach (var (name, m) in r.Memory)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {Mb(m.AfterStart)} | {Mb(m.Idle)} | {Mb(m.PeakAtC128)} | {Mb(m.PeakWholeRun)} | {Mb(m.After)} |");
        }

        md.AppendLine();
        md.AppendLine("## Tollgate's ratios");
        md.AppendLine();
        md.AppendLine("| figure | Tollgate | ÷ direct | ÷ nginx | ÷ Portkey |");
        md.AppendLine("|---|---|---|---|---|");
        RatioRow(md, r, "c=1 p50 latency (lower is better)", r.C1, f => f.P50Us, Us);
        RatioRow(md, r, "c=1 p99 latency (lower is better)", r.C1, f => f.P99Us, Us);
        AddedRatioRow(md, r);
        RatioRow(md, r, "c=32 req/s (higher is better)", r.C32, f => f.RequestsPerSecond, v => v.ToString("N0", CultureInfo.InvariantCulture));
        RatioRow(md, r, "c=32 p99 (lower is better)", r.C32, f => f.P99Us, Us);
        RatioRow(md, r, "c=128 req/s (higher is better)", r.C128, f => f.RequestsPerSecond, v => v.ToString("N0", CultureInfo.InvariantCulture));
        RatioRow(md, r, "c=128 p99 (lower is better)", r.C128, f => f.P99Us, Us);
        var bestRps = r.Slow.ToDictionary(x => x.Key, x => x.Value.Best?.Figures.RequestsPerSecond ?? double.NaN);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| req/s at p99 ≤ 50 ms, 20 ms upstream (higher is better) | {bestRps[Target.Tollgate]:N0} | {Ratio(bestRps[Target.Tollgate], bestRps.GetValueOrDefault(Target.Direct, double.NaN))} | {Ratio(bestRps[Target.Tollgate], bestRps.GetValueOrDefault(Target.Nginx, double.NaN))} | {Ratio(bestRps[Target.Tollgate], bestRps.GetValueOrDefault(Target.Portkey, double.NaN))} |");
        var ttft = r.Streaming.ToDictionary(x => x.Key, x => x.Value.TtftP50Ms);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| streaming TTFT p50 (lower is better) | {Ms(ttft[Target.Tollgate])} | {Ratio(ttft[Target.Tollgate], ttft[Target.Direct])} | {Ratio(ttft[Target.Tollgate], ttft[Target.Nginx])} | {Ratio(ttft[Target.Tollgate], ttft.GetValueOrDefault(Target.Portkey, double.NaN))} |");
        if (r.Memory.TryGetValue(Target.Tollgate, out var tm))
        {
            double Peak(string name) => r.Memory.TryGetValue(name, out var m) && m.PeakAtC128 is { } p ? p : double.NaN;
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| RSS peak at c=128 (lower is better) | {Mb(tm.PeakAtC128)} | — | {Ratio(Peak(Target.Tollgate), Peak(Target.Nginx))} | {Ratio(Peak(Target.Tollgate), Peak(Target.Portkey))} |");
        }

        md.AppendLine();
        md.AppendLine("## Targets");
        md.AppendLine();
        md.AppendLine("| target | measured | |");
        md.AppendLine("|---|---|---|");
        foreach (var (target, measured, passed) in Checks(r))
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {target} | {measured} | {(passed is null ? "—" : passed.Value ? "✅" : "❌")} |");
        }

        md.AppendLine();
        md.AppendLine("## Correctness: Tollgate's books after the run (read from its SQLite file after a graceful stop)");
        md.AppendLine();
        if (r.Ledger is { } ledger)
        {
            foreach (var line in ledger.ToMarkdown())
            {
                md.AppendLine(line);
            }
        }

        return md.ToString();
    }

    private static IEnumerable<(string Target, string Measured, bool? Passed)> Checks(CompareResults r)
    {
        var direct = r.C1[Target.Direct];
        var tollgate = r.C1[Target.Tollgate];
        var nginx = r.C1[Target.Nginx];
        var addedP50 = tollgate.P50Us - direct.P50Us;
        var nginxAddedP50 = nginx.P50Us - direct.P50Us;
        var addedP99 = tollgate.P99Us - direct.P99Us;
        yield return ("c=1 added p50 ≤ 1.5 × nginx's added p50", $"{Us(addedP50)} vs 1.5 × {Us(nginxAddedP50)} = {Us(1.5 * nginxAddedP50)}", addedP50 <= 1.5 * nginxAddedP50);
        yield return ("c=1 added p99 < 1 ms", Us(addedP99), addedP99 < 1000);

        var c32 = r.C32[Target.Tollgate].RequestsPerSecond;
        var c32Nginx = r.C32[Target.Nginx].RequestsPerSecond;
        yield return ("c=32 req/s ≥ 0.8 × nginx", $"{c32:N0} vs 0.8 × {c32Nginx:N0} = {0.8 * c32Nginx:N0} (×{c32 / c32Nginx:0.00})", c32 >= 0.8 * c32Nginx);
        if (r.C32.TryGetValue(Target.Portkey, out var portkey))
        {
            yield return ("c=32 req/s ≥ 20 × Portkey", $"{c32:N0} vs 20 × {portkey.RequestsPerSecond:N0} = {20 * portkey.RequestsPerSecond:N0} (×{c32 / portkey.RequestsPerSecond:0.0})",
                c32 >= 20 * portkey.RequestsPerSecond);
        }
        else
        {
            yield return ("c=32 req/s ≥ 20 × Portkey", "Portkey skipped", null);
        }

        var stream = r.Streaming[Target.Tollgate];
        var directStream = r.Streaming[Target.Direct];
        var addedTtft = stream.TtftP50Ms - directStream.TtftP50Ms;
        var addedGap = stream.GapMeanMs - directStream.GapMeanMs;
        yield return ("streaming added TTFT < 1 ms", Ms(addedTtft), stream.Succeeded > 0 && addedTtft < 1);
        yield return ($"streaming: no added per-chunk gap beyond noise (mean gap + ≤ {GapNoiseMs} ms)", $"{Ms(addedGap, 3)} (p99 gap {Ms(stream.GapP99Ms)} vs direct {Ms(directStream.GapP99Ms)})",
            stream.Succeeded > 0 && addedGap <= GapNoiseMs);

        if (r.Memory.TryGetValue(Target.Tollgate, out var memory))
        {
            yield return ("RSS < 150 MB under load (peak during c=128)", $"{Mb(memory.PeakAtC128)} (peak over the whole run {Mb(memory.PeakWholeRun)})",
                memory.PeakAtC128 < MaxRssUnderLoad);
            var near = memory.Idle is { } idle ? idle + Math.Max(20L * 1024 * 1024, idle / 5) : (long?)null;
            yield return ("RSS back near idle after load (≤ idle + max(20 MB, 20 %))", $"{Mb(memory.After)} vs idle {Mb(memory.Idle)} (limit {Mb(near)})",
                memory.After is { } after && near is { } limit ? after <= limit : null);
        }

        yield return ("flat over a 10-minute soak", "not part of compare: run `bench/run.sh soak --minutes 10`", null);
        var errors = r.C1[Target.Tollgate].Errors + r.C32[Target.Tollgate].Errors + r.C128[Target.Tollgate].Errors;
        yield return ("Tollgate answered every request (no non-2xx or socket errors at c=1/32/128)", $"{errors:N0} errors", errors == 0);
        if (r.Ledger is { } ledger)
        {
            yield return ("every request charged once, balance = sum of ledger", ledger.Passed ? "see Correctness" : "see Correctness below", ledger.Passed);
        }
    }

    private static void RatioRow(StringBuilder md, CompareResults r, string label, IReadOnlyDictionary<string, LoadFigures> figures,
        Func<LoadFigures, double> value, Func<double, string> format)
    {
        double Of(string name) => figures.TryGetValue(name, out var f) ? value(f) : double.NaN;
        var tollgate = Of(Target.Tollgate);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| {label} | {format(tollgate)} | {Ratio(tollgate, Of(Target.Direct))} | {Ratio(tollgate, Of(Target.Nginx))} | {Ratio(tollgate, Of(Target.Portkey))} |");
    }

    private static void AddedRatioRow(StringBuilder md, CompareResults r)
    {
        var direct = r.C1[Target.Direct].P50Us;
        double Added(string name) => r.C1.TryGetValue(name, out var f) ? f.P50Us - direct : double.NaN;
        var tollgate = Added(Target.Tollgate);
        md.AppendLine(CultureInfo.InvariantCulture,
            $"| c=1 added p50 (lower is better) | {Us(tollgate)} | — | {Ratio(tollgate, Added(Target.Nginx))} | {Ratio(tollgate, Added(Target.Portkey))} |");
    }

    private static string Ratio(double value, double reference) =>
        double.IsNaN(value) || double.IsNaN(reference) || reference == 0 ? "—" : $"×{value / reference:0.00}";

    /// <summary>Microseconds, as µs below 1 ms and as ms above.</summary>
    public static string Us(double microseconds) => double.IsNaN(microseconds)
        ? "—"
        : Math.Abs(microseconds) < 1000
            ? $"{microseconds:0} µs"
            : $"{microseconds / 1000:0.00} ms";

    private static string Ms(double milliseconds, int decimals = 2) =>
        double.IsNaN(milliseconds) ? "—" : milliseconds.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) + " ms";

    private static string Mb(long? bytes) => bytes is { } b ? $"{b / 1024.0 / 1024.0:0.0} MB" : "—";
}

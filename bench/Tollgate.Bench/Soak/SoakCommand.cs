using System.CommandLine;
using System.Globalization;
using System.Text;
using Tollgate.Bench.Compare;
using Tollgate.Bench.Correctness;
using Tollgate.Bench.Infrastructure;
using Tollgate.Bench.Load;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Soak;

/// <summary>
/// <c>soak</c>: Tollgate alone under steady c=32 load against the zero-delay fake for N minutes,
/// its RSS read every 30 s (while loaded) and throughput per 30 s window; then whether both stayed flat.
/// </summary>
internal static class SoakCommand
{
    private const int Connections = 32;
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(30);

    public static Command Create()
    {
        var minutes = new Option<int>("--minutes") { Description = "How long to keep the load on", DefaultValueFactory = _ => 10 };
        var command = new Command("soak", "Tollgate under steady c=32 load, RSS sampled every 30 s; says whether it stays flat") { minutes };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var duration = TimeSpan.FromMinutes(parse.GetValue(minutes));
            if (duration < Window)
            {
                await Console.Error.WriteLineAsync("--minutes must be at least 1");
                return 2;
            }

            var paths = BenchPaths.Find();
            var started = DateTimeOffset.UtcNow;
            var report = await RunAsync(paths, duration, cancellationToken);
            Console.WriteLine(report);
            var written = ResultFiles.Write(paths, started, "-soak", report);
            await Console.Error.WriteLineAsync($"Report written to {written}");
            return 0;
        });
        return command;
    }

    private sealed record Sample(TimeSpan At, WrkResult Load, long? Rss);

    private static async Task<string> RunAsync(BenchPaths paths, TimeSpan duration, CancellationToken cancellationToken)
    {
        paths.RequireBuilt();
        var started = DateTimeOffset.UtcNow;
        var machine = MachineInfo.Read();
        var folder = Directory.CreateTempSubdirectory("tollgate-soak-").FullName;
        var processes = new ChildProcesses(Path.Combine(folder, "logs"));
        var succeeded = false;
        try
        {
            Say($"Starting the fake upstream and Tollgate (logs in {processes.LogFolder})");
            var roots = FakeUpstreams.Start(processes, paths, [Upstream.Zero]);
            var tollgate = await TollgateServer.StartAsync(processes, paths, Path.Combine(folder, "tollgate"), roots, cancellationToken);
            var tally = new RequestTally();
            using (var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) })
            {
                await Readiness.WaitAsync(client, tollgate.Target, tollgate.ReadyUrl, () => tollgate.Process.HasExited,
                    () => tollgate.Process.LogTail(), tally, cancellationToken);
            }

            var wrk = new Wrk(Path.Combine(folder, "wrk"));
            var endpoint = tollgate.Target.Endpoints[Upstream.Zero];
            async Task<WrkResult> LoadAsync(TimeSpan length)
            {
                var result = await wrk.RunAsync(endpoint, Connections, length, cancellationToken);
                tally.Add(Target.Tollgate, result.Ok);
                tally.AddInFlight(Target.Tollgate, Connections);
                return result;
            }

            Say("Warming up for 10 s");
            await LoadAsync(TimeSpan.FromSeconds(10));
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            var idle = Memory.TreeRssBytes(tollgate.Process.Id);

            var samples = new List<Sample>();
            var windows = (int)(duration / Window);
            Say($"Soaking: c={Connections}, {windows} windows of {Window.TotalSeconds:0} s");
            for (var i = 1; i <= windows; i++)
            {
                var load = LoadAsync(Window);
                await Task.Delay(Window - TimeSpan.FromSeconds(1), cancellationToken);
                var rss = Memory.TreeRssBytes(tollgate.Process.Id);
                var result = await load;
                samples.Add(new Sample(Window * i, result, rss));
                Say($"  {Window * i:mm\\:ss}  {result.RequestsPerSecond,8:N0} req/s  p99 {Report.Us(result.P99Us),9}  RSS {Mb(rss)}{(result.Errors > 0 ? $"  {result.Errors:N0} errors" : "")}");
            }

            Say("Waiting 30 s for the memory after load");
            await Task.Delay(TimeSpan.FromSeconds(30), cancellationToken);
            var after = Memory.TreeRssBytes(tollgate.Process.Id);
            Say("Stopping Tollgate (SIGTERM) and checking its database");
            await tollgate.StopAsync();
            var ledger = await LedgerCheck.ReadAsync(tollgate.DatabasePath, tally.Ok(Target.Tollgate), tally.InFlightAtStop(Target.Tollgate), cancellationToken);
            succeeded = true;
            return Build(started, machine, duration, idle, samples, after, ledger);
        }
        finally
        {
            processes.Dispose();
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            if (succeeded)
            {
                Directory.Delete(folder, recursive: true);
            }
            else
            {
                await Console.Error.WriteLineAsync($"Logs of the child processes kept in {processes.LogFolder}");
            }
        }
    }

    /// <summary>
    /// Flat: after the first half (warm-up effects, GC heaps sizing), RSS grows by no more than
    /// 10 % (or 10 MB), and the last window's throughput is at least 80 % of the first's.
    /// </summary>
    private static string Build(DateTimeOffset started, MachineInfo machine, TimeSpan duration, long? idle, List<Sample> samples, long? after, LedgerCheck ledger)
    {
        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# Tollgate soak — {started:yyyy-MM-dd HH:mm} UTC, {duration.TotalMinutes:0} min at c={Connections}");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {machine.Cores} cores, {machine.Memory} RAM, {machine.Os}, {machine.DotNet}; load average at start {machine.LoadAverage}");
        md.AppendLine("- Tollgate as in `compare` (SQLite, real key, credits, usage records), zero-delay fake upstream, wrk -t2 -c32 in 30 s windows; RSS read 1 s before each window ends");
        md.AppendLine();
        md.AppendLine("| time | req/s | p50 | p99 | errors | RSS |");
        md.AppendLine("|---|---|---|---|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| idle after warm-up | | | | | {Mb(idle)} |");
        foreach (var s in samples)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"| {s.At:mm\\:ss} | {s.Load.RequestsPerSecond:N0} | {Report.Us(s.Load.P50Us)} | {Report.Us(s.Load.P99Us)} | {s.Load.Errors:N0} | {Mb(s.Rss)} |");
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"| 30 s after load | | | | | {Mb(after)} |");
        md.AppendLine();

        var half = Math.Max(1, samples.Count / 2);
        var firstHalfMax = samples.Take(half).Max(s => s.Rss ?? 0);
        var secondHalfMax = samples.Skip(half).Select(s => s.Rss ?? 0).DefaultIfEmpty(firstHalfMax).Max();
        var allowed = firstHalfMax + Math.Max(10L * 1024 * 1024, firstHalfMax / 10);
        var rssFlat = secondHalfMax <= allowed;
        var firstRps = samples[0].Load.RequestsPerSecond;
        var lastRps = samples[^1].Load.RequestsPerSecond;
        var rpsFlat = lastRps >= 0.8 * firstRps;
        var errors = samples.Sum(s => s.Load.Errors);
        var peak = samples.Max(s => s.Rss ?? 0);
        md.AppendLine("| check | measured | |");
        md.AppendLine("|---|---|---|");
        md.AppendLine(CultureInfo.InvariantCulture, $"| RSS flat: second half's max ≤ first half's max + max(10 MB, 10 %) | {Mb(secondHalfMax)} vs {Mb(firstHalfMax)} (limit {Mb(allowed)}) | {Mark(rssFlat)} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| throughput flat: last window ≥ 0.8 × first | {lastRps:N0} vs {firstRps:N0} req/s | {Mark(rpsFlat)} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| RSS < 150 MB under load | peak {Mb(peak)} | {Mark(peak < Report.MaxRssUnderLoad)} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| no errors | {errors:N0} | {Mark(errors == 0)} |");
        md.AppendLine(CultureInfo.InvariantCulture, $"| **flat** | | {Mark(rssFlat && rpsFlat)} |");
        md.AppendLine();
        foreach (var line in ledger.ToMarkdown())
        {
            md.AppendLine(line);
        }

        return md.ToString();
    }

    private static string Mark(bool ok) => ok ? "✅" : "❌";

    private static string Mb(long? bytes) => bytes is { } b ? $"{b / 1024.0 / 1024.0:0.0} MB" : "—";

    private static void Say(string line) => Console.Error.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
}

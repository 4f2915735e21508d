using System.Diagnostics;
using Tollgate.Bench.Correctness;
using Tollgate.Bench.Infrastructure;
using Tollgate.Bench.Load;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Compare;

/// <summary>
/// The comparison: starts the fakes, nginx, Portkey and Tollgate, measures them interleaved
/// (every round runs direct → nginx → Portkey → Tollgate in turn, so a burst of noise on the shared
/// machine hits all of them alike), checks Tollgate's books, and stops everything it started.
/// </summary>
internal sealed class CompareRun(CompareSettings settings, BenchPaths paths, TextWriter progress)
{
    private readonly RequestTally _tally = new();
    private Wrk _wrk = null!;
    private List<Target> _targets = [];

    public async Task<CompareResults> RunAsync(CancellationToken cancellationToken)
    {
        paths.RequireBuilt();
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var machine = MachineInfo.Read();
        var versions = await VersionsAsync(cancellationToken);
        var folder = Directory.CreateTempSubdirectory("tollgate-compare-").FullName;
        _wrk = new Wrk(Path.Combine(folder, "wrk"));
        var succeeded = false;
        var processes = new ChildProcesses(Path.Combine(folder, "logs"));
        try
        {
            // The stack: one fake per upstream behaviour, then the three ways through to them.
            Say($"Starting the fake upstreams, nginx, {(settings.SkipPortkey ? "" : "Portkey, ")}Tollgate (logs in {processes.LogFolder})");
            var roots = FakeUpstreams.Start(processes, paths, Enum.GetValues<Upstream>());
            var direct = FakeUpstreams.DirectTarget(roots);
            var nginx = Nginx.Start(processes, Path.Combine(folder, "nginx"), roots);
            var portkey = settings.SkipPortkey ? null : Portkey.Start(processes, paths, roots);
            var tollgate = await TollgateServer.StartAsync(processes, paths, Path.Combine(folder, "tollgate"), roots, cancellationToken);
            _targets = [direct, nginx, .. portkey is null ? Array.Empty<Target>() : [portkey], tollgate.Target];
            await WaitReadyAsync(processes, tollgate, cancellationToken);

            var watched = WatchedProcesses();
            var afterStart = watched.ToDictionary(w => w.Key, w => Memory.TreeRssBytes(w.Value));

            // Warm-up: JIT, connection pools and caches, on every path the measurements take.
            Say("Warming up");
            foreach (var target in _targets)
            {
                await LoadAsync(target, Upstream.Zero, 32, settings.Warmup, cancellationToken);
                await LoadAsync(target, Upstream.Slow, 32, settings.Warmup / 2, cancellationToken);
            }

            using var probe = new StreamProbe();
            foreach (var target in _targets)
            {
                await StreamAsync(probe, target, cancellationToken);
            }

            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            var idle = watched.ToDictionary(w => w.Key, w => Memory.TreeRssBytes(w.Value));

            await using var wholeRun = new RssSampler(watched);
            Say("Added latency at c=1, zero-delay upstream");
            var c1 = await InterleavedAsync(_targets, Upstream.Zero, 1, cancellationToken);
            Say("Throughput at c=32");
            var c32 = await InterleavedAsync(_targets, Upstream.Zero, 32, cancellationToken);
            Say("Throughput at c=128 (memory sampled every 250 ms)");
            Dictionary<string, LoadFigures> c128;
            Dictionary<string, long?> peakAt128;
            await using (var sampler = new RssSampler(watched))
            {
                c128 = await InterleavedAsync(_targets, Upstream.Zero, 128, cancellationToken);
                peakAt128 = watched.ToDictionary(w => w.Key, w => sampler.Peak(w.Key));
            }

            Say($"Throughput at p99 <= {CompareSettings.SlowP99Bound.TotalMilliseconds} ms, {FakeUpstreams.SlowDelayMs} ms upstream");
            var slow = await StepAsync(cancellationToken);
            Say($"Streaming: {FakeUpstreams.StreamChunks} chunks {FakeUpstreams.StreamGapMs} ms apart, {settings.Streams} streams per target");
            var streaming = await StreamingAsync(probe, cancellationToken);

            Say($"Waiting {settings.After.TotalSeconds} s for the memory after load");
            await Task.Delay(settings.After, cancellationToken);
            var after = watched.ToDictionary(w => w.Key, w => Memory.TreeRssBytes(w.Value));
            var memory = watched.Keys.ToDictionary(name => name, name =>
                new MemoryFigures(afterStart[name], idle[name], peakAt128[name], wholeRun.Peak(name), after[name]));

            Say("Stopping Tollgate (SIGTERM) and checking its database");
            await tollgate.StopAsync();
            var ledger = await LedgerCheck.ReadAsync(tollgate.DatabasePath, _tally.Ok(Target.Tollgate), _tally.InFlightAtStop(Target.Tollgate), cancellationToken);
            succeeded = true;
            return new CompareResults(started, clock.Elapsed, machine, versions, settings, _targets.Select(t => t.Name).ToList(),
                c1, c32, c128, slow, streaming, memory, ledger);
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
                await progress.WriteLineAsync($"Logs of the child processes kept in {processes.LogFolder}");
            }
        }
    }

    private async Task WaitReadyAsync(ChildProcesses processes, TollgateServer tollgate, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        foreach (var target in _targets)
        {
            // The fakes answer for direct; a gateway that dies while starting fails the run at once, with its log.
            var child = target.ProcessId is { } id ? processes.Find(id) : null;
            await Readiness.WaitAsync(client, target, target.Name == Target.Tollgate ? tollgate.ReadyUrl : null,
                exited: () => child?.HasExited ?? false,
                log: () => child?.LogTail() ?? "",
                _tally, cancellationToken);
        }
    }

    private Dictionary<string, int> WatchedProcesses() =>
        _targets.Where(t => t.ProcessId is not null).ToDictionary(t => t.Name, t => t.ProcessId!.Value);

    private async Task<WrkResult> LoadAsync(Target target, Upstream upstream, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var result = await _wrk.RunAsync(target.Endpoints[upstream], connections, duration, cancellationToken);
        _tally.Add(target.Name, result.Ok);
        _tally.AddInFlight(target.Name, connections);
        return result;
    }

    /// <summary>Rounds of one load setting, every target in turn within a round.</summary>
    private async Task<Dictionary<string, LoadFigures>> InterleavedAsync(IReadOnlyList<Target> targets, Upstream upstream, int connections,
        CancellationToken cancellationToken)
    {
        var rounds = targets.ToDictionary(t => t.Name, _ => new List<WrkResult>());
        for (var round = 1; round <= settings.Rounds; round++)
        {
            foreach (var target in targets)
            {
                var result = await LoadAsync(target, upstream, connections, settings.Round, cancellationToken);
                rounds[target.Name].Add(result);
                Say($"  c={connections} round {round}/{settings.Rounds} {target.Name,-8} {result.RequestsPerSecond,9:N0} req/s  p50 {Report.Us(result.P50Us),9}  p99 {Report.Us(result.P99Us),9}"
                    + (result.Errors > 0 ? $"  {result.Errors:N0} errors" : ""));
            }
        }

        return rounds.ToDictionary(r => r.Key, r => new LoadFigures(r.Value));
    }

    /// <summary>Steps the concurrency up with the 20 ms upstream until each target's p99 passes the bound (down for one already over it at the first level).</summary>
    private async Task<Dictionary<string, StepFigures>> StepAsync(CancellationToken cancellationToken)
    {
        var bound = CompareSettings.SlowP99Bound.TotalMicroseconds;
        var levels = _targets.ToDictionary(t => t.Name, _ => new List<(int, LoadFigures)>());
        var active = _targets.ToList();
        var overAtFirst = new List<Target>();
        foreach (var connections in settings.SlowLevels)
        {
            active.RemoveAll(t => t.Name == Target.Portkey && connections > settings.PortkeyMaxConnections);
            if (active.Count == 0)
            {
                break;
            }

            var figures = await InterleavedAsync(active, Upstream.Slow, connections, cancellationToken);
            foreach (var target in active.ToList())
            {
                var f = figures[target.Name];
                levels[target.Name].Add((connections, f));
                if (f.P99Us > bound || f.Errors > 0)
                {
                    active.Remove(target);
                    if (connections == settings.SlowLevels[0])
                    {
                        overAtFirst.Add(target);
                    }
                }
            }
        }

        foreach (var connections in CompareSettings.SlowLevelsBelow.Where(c => c < settings.SlowLevels[0]))
        {
            if (overAtFirst.Count == 0)
            {
                break;
            }

            var figures = await InterleavedAsync(overAtFirst, Upstream.Slow, connections, cancellationToken);
            foreach (var target in overAtFirst.ToList())
            {
                var f = figures[target.Name];
                levels[target.Name].Add((connections, f));
                if (f.P99Us <= bound && f.Errors == 0)
                {
                    overAtFirst.Remove(target);
                }
            }
        }

        return levels.ToDictionary(l => l.Key, l => new StepFigures(l.Value.OrderBy(x => x.Item1).ToList(), bound));
    }

    private async Task<Dictionary<string, StreamFigures>> StreamingAsync(StreamProbe probe, CancellationToken cancellationToken)
    {
        var results = _targets.ToDictionary(t => t.Name, _ => new List<StreamResult>());
        for (var i = 0; i < settings.Streams; i++)
        {
            foreach (var target in _targets)
            {
                results[target.Name].Add(await StreamAsync(probe, target, cancellationToken));
            }
        }

        foreach (var (name, streams) in results)
        {
            var figures = new StreamFigures(streams);
            Say($"  {name,-8} {figures.Succeeded}/{streams.Count} streams ok, TTFT p50 {figures.TtftP50Ms:0.00} ms, mean gap {figures.GapMeanMs:0.000} ms"
                + (figures.FirstError is { } error ? $"; first error: {error}" : ""));
        }

        return results.ToDictionary(r => r.Key, r => new StreamFigures(r.Value));
    }

    private async Task<StreamResult> StreamAsync(StreamProbe probe, Target target, CancellationToken cancellationToken)
    {
        var result = await probe.RunAsync(target.Endpoints[Upstream.Stream], cancellationToken);
        _tally.Add(target.Name, result.Ok ? 1 : 0);
        return result;
    }

    private async Task<Dictionary<string, string>> VersionsAsync(CancellationToken cancellationToken)
    {
        var versions = new Dictionary<string, string>
        {
            ["nginx"] = await Nginx.VersionAsync(cancellationToken) ?? "not installed",
            ["Portkey"] = Portkey.Version(paths) is { } portkey ? "@portkey-ai/gateway " + portkey : "not installed",
        };
        try
        {
            versions["node"] = (await ChildProcesses.RunToEndAsync("node", ["--version"], null, null, cancellationToken)).Output.Trim();
            var wrk = (await ChildProcesses.RunToEndAsync("wrk", ["-v"], null, null, cancellationToken)).Output;
            versions["wrk"] = wrk.Split('\n')[0].Split(" [", 2)[0].Trim();
        }
        catch (System.ComponentModel.Win32Exception exception)
        {
            throw new InvalidOperationException("node and wrk are needed: bench/run.sh installs them. " + exception.Message, exception);
        }

        return versions;
    }

    private void Say(string line) => progress.WriteLine($"[{DateTime.UtcNow:HH:mm:ss}] {line}");
}

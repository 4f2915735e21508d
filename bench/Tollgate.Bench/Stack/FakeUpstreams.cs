using System.Globalization;
using Tollgate.Bench.Infrastructure;

namespace Tollgate.Bench.Stack;

/// <summary>
/// The project's fake upstream, one process per behaviour: its command line sets one default
/// scenario for every model, so three processes serve the three behaviours.
/// </summary>
internal static class FakeUpstreams
{
    public const int StreamChunks = 64;
    public const int StreamGapMs = 20;
    public const int SlowDelayMs = 20;

    /// <summary>Starts the fakes that <paramref name="needed"/> names; returns each one's root URL (<c>http://127.0.0.1:P</c>).</summary>
    public static Dictionary<Upstream, Uri> Start(ChildProcesses processes, BenchPaths paths, IEnumerable<Upstream> needed)
    {
        var roots = new Dictionary<Upstream, Uri>();
        foreach (var upstream in needed)
        {
            var port = Ports.Free();
            string[] scenario = upstream switch
            {
                Upstream.Zero => ["--delay-ms", "0"],
                Upstream.Slow => ["--delay-ms", SlowDelayMs.ToString(CultureInfo.InvariantCulture)],
                _ => ["--chunks", StreamChunks.ToString(CultureInfo.InvariantCulture), "--gap-ms", StreamGapMs.ToString(CultureInfo.InvariantCulture)],
            };
            processes.Start($"fake-{upstream.ToString().ToLowerInvariant()}", "dotnet",
                [paths.FakeUpstreamDll, "--port", port.ToString(CultureInfo.InvariantCulture), .. scenario],
                new Dictionary<string, string> { ["DOTNET_gcServer"] = "1" });
            roots[upstream] = new Uri($"http://127.0.0.1:{port}");
        }

        return roots;
    }

    /// <summary>The direct target: the client calls the fakes itself.</summary>
    public static Target DirectTarget(IReadOnlyDictionary<Upstream, Uri> roots) =>
        new(Target.Direct, roots.ToDictionary(r => r.Key, r => new ChatEndpoint(
            new Uri(r.Value, "/v1/chat/completions"), "fake-model", new Dictionary<string, string>())), ProcessId: null);
}

using System.Globalization;
using System.Text;
using Tollgate.Bench.Infrastructure;
using Tollgate.Bench.Stack;

namespace Tollgate.Bench.Load;

/// <summary>One wrk run: latency percentiles in microseconds, completed requests and errors.</summary>
internal sealed record WrkResult(long Requests, double Seconds, double P50Us, double P90Us, double P99Us, double MaxUs, long StatusErrors, long SocketErrors)
{
    public double RequestsPerSecond => Seconds > 0 ? Requests / Seconds : 0;

    /// <summary>Answers with a status below 400 (wrk counts 4xx and 5xx as status errors).</summary>
    public long Ok => Requests - StatusErrors;

    public long Errors => StatusErrors + SocketErrors;
}

/// <summary>
/// Runs wrk (Debian's package) with a generated Lua script per endpoint: a POST of the small chat
/// request, and a <c>done</c> function that prints one machine-readable line.
/// </summary>
internal sealed class Wrk(string scriptFolder)
{
    private const string ResultPrefix = "WRK_RESULT";
    private readonly Dictionary<ChatEndpoint, string> _scripts = [];

    public async Task<WrkResult> RunAsync(ChatEndpoint endpoint, int connections, TimeSpan duration, CancellationToken cancellationToken)
    {
        var threads = Math.Min(2, connections);
        var (exitCode, output) = await ChildProcesses.RunToEndAsync("wrk",
            [
                "-t", threads.ToString(CultureInfo.InvariantCulture),
                "-c", connections.ToString(CultureInfo.InvariantCulture),
                "-d", $"{Math.Max(1, (int)Math.Round(duration.TotalSeconds)).ToString(CultureInfo.InvariantCulture)}s",
                "--timeout", "10s",
                "-s", ScriptFor(endpoint),
                endpoint.Url.ToString(),
            ],
            null, null, cancellationToken);
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(ResultPrefix, StringComparison.Ordinal));
        if (exitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"wrk failed ({exitCode}) against {endpoint.Url}:\n{output}");
        }

        var values = line[ResultPrefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => double.Parse(pair[1], CultureInfo.InvariantCulture), StringComparer.Ordinal);
        return new WrkResult(
            (long)values["requests"], values["duration_us"] / 1e6, values["p50"], values["p90"], values["p99"], values["max"],
            (long)values["status"], (long)(values["connect"] + values["read"] + values["write"] + values["timeout"]));
    }

    private string ScriptFor(ChatEndpoint endpoint)
    {
        if (_scripts.TryGetValue(endpoint, out var existing))
        {
            return existing;
        }

        var script = new StringBuilder();
        script.Append("wrk.method = \"POST\"\n");
        script.Append(CultureInfo.InvariantCulture, $"wrk.body = [==[{ChatRequests.Body(endpoint.Model, stream: false)}]==]\n");
        script.Append("wrk.headers[\"Content-Type\"] = \"application/json\"\n");
        foreach (var (name, value) in endpoint.Headers)
        {
            script.Append(CultureInfo.InvariantCulture, $"wrk.headers[ [==[{name}]==] ] = [==[{value}]==]\n");
        }

        script.Append($$"""
            done = function(summary, latency, requests)
              local e = summary.errors
              io.write(string.format("{{ResultPrefix}} requests=%d duration_us=%d p50=%.0f p90=%.0f p99=%.0f max=%.0f status=%d connect=%d read=%d write=%d timeout=%d\n",
                summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
                e.status, e.connect, e.read, e.write, e.timeout))
            end

            """);
        Directory.CreateDirectory(scriptFolder);
        var path = Path.Combine(scriptFolder, $"wrk-{_scripts.Count.ToString(CultureInfo.InvariantCulture)}.lua");
        File.WriteAllText(path, script.ToString());
        _scripts[endpoint] = path;
        return path;
    }
}

using System.Collections.Concurrent;

namespace Tollgate.Bench.Load;

/// <summary>
/// Successful chat completions each target answered during the run, as its clients saw them;
/// the correctness check compares Tollgate's with its usage records and charges.
/// </summary>
internal sealed class RequestTally
{
    private readonly ConcurrentDictionary<string, long> _ok = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, long> _inFlightAtStop = new(StringComparer.Ordinal);

    public void Add(string target, long ok) => _ok.AddOrUpdate(target, ok, (_, n) => n + ok);

    /// <summary>Notes that a load run stopped with up to <paramref name="connections"/> requests in flight, whose fate the client never saw.</summary>
    public void AddInFlight(string target, long connections) => _inFlightAtStop.AddOrUpdate(target, connections, (_, n) => n + connections);

    public long Ok(string target) => _ok.GetValueOrDefault(target);

    public long InFlightAtStop(string target) => _inFlightAtStop.GetValueOrDefault(target);
}

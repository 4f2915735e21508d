namespace Tollgate.Bench.Compare;

/// <summary>How long and how often the comparison measures.</summary>
/// <param name="Rounds">Rounds per measurement; each round runs every target once, in turn.</param>
/// <param name="Round">The length of one target's turn in a round.</param>
/// <param name="Warmup">Load per target before anything is measured (JIT, connection pools, caches).</param>
/// <param name="Streams">Streams per target.</param>
/// <param name="After">How long after the last load the "after" memory is read.</param>
/// <param name="SlowLevels">Concurrencies stepped through with the 20 ms upstream, upwards.</param>
/// <param name="PortkeyMaxConnections">Portkey's cap in the step: it is slow, and queues grow without bound past it.</param>
internal sealed record CompareSettings(
    int Rounds,
    TimeSpan Round,
    TimeSpan Warmup,
    int Streams,
    TimeSpan After,
    bool SkipPortkey,
    bool Quick,
    IReadOnlyList<int> SlowLevels,
    int PortkeyMaxConnections)
{
    /// <summary>The p99 bound of the 20 ms-upstream step.</summary>
    public static readonly TimeSpan SlowP99Bound = TimeSpan.FromMilliseconds(50);

    /// <summary>Levels tried, downwards, for a target already over the bound at the first level.</summary>
    public static readonly IReadOnlyList<int> SlowLevelsBelow = [16, 8, 4, 2, 1];

    public static CompareSettings Create(int? rounds, int? roundSeconds, bool skipPortkey, bool quick) => quick
        ? new CompareSettings(rounds ?? 1, TimeSpan.FromSeconds(roundSeconds ?? 2), TimeSpan.FromSeconds(2), Streams: 3,
            After: TimeSpan.FromSeconds(5), skipPortkey, Quick: true, SlowLevels: [32, 128, 512], PortkeyMaxConnections: 128)
        : new CompareSettings(rounds ?? 3, TimeSpan.FromSeconds(roundSeconds ?? 4), TimeSpan.FromSeconds(3), Streams: 10,
            After: TimeSpan.FromSeconds(30), skipPortkey, Quick: false, SlowLevels: [32, 64, 128, 256, 512, 1024], PortkeyMaxConnections: 256);
}

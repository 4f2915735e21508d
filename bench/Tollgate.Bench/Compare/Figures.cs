using Tollgate.Bench.Correctness;
using Tollgate.Bench.Infrastructure;
using Tollgate.Bench.Load;

namespace Tollgate.Bench.Compare;

/// <summary>One target's figures for one load setting: the median of its rounds.</summary>
internal sealed record LoadFigures(IReadOnlyList<WrkResult> Rounds)
{
    public double RequestsPerSecond => Stats.Median(Rounds.Select(r => r.RequestsPerSecond));

    public double P50Us => Stats.Median(Rounds.Select(r => r.P50Us));

    public double P99Us => Stats.Median(Rounds.Select(r => r.P99Us));

    public long Requests => Rounds.Sum(r => r.Requests);

    public long Errors => Rounds.Sum(r => r.Errors);
}

/// <summary>The highest throughput a target reached with p99 at most the bound (20 ms upstream), and every level tried.</summary>
internal sealed record StepFigures(IReadOnlyList<(int Connections, LoadFigures Figures)> Levels, double BoundUs)
{
    public (int Connections, LoadFigures Figures)? Best => Levels
        .Where(l => l.Figures.P99Us <= BoundUs && l.Figures.Errors == 0)
        .OrderByDescending(l => l.Figures.RequestsPerSecond)
        .Cast<(int, LoadFigures)?>()
        .FirstOrDefault();
}

/// <summary>A target's streams: time to first token and the gaps between content events.</summary>
internal sealed record StreamFigures(IReadOnlyList<StreamResult> Streams)
{
    public int Succeeded => Streams.Count(s => s.Ok);

    public string? FirstError => Streams.FirstOrDefault(s => !s.Ok)?.Error;

    public double TtftP50Ms => Stats.Median(Streams.Where(s => s.Ok).Select(s => s.TtftMs));

    public double GapMeanMs => Streams.Where(s => s.Ok).SelectMany(s => s.GapsMs).DefaultIfEmpty(double.NaN).Average();

    public double GapP99Ms => Stats.Percentile(Streams.Where(s => s.Ok).SelectMany(s => s.GapsMs), 99);

    public double ContentEventsPerStream => Streams.Where(s => s.Ok).Select(s => (double)s.ContentEvents).DefaultIfEmpty(double.NaN).Average();
}

/// <summary>Resident memory of one process (tree) at the moments the report shows, in bytes.</summary>
internal sealed record MemoryFigures(long? AfterStart, long? Idle, long? PeakAtC128, long? PeakWholeRun, long? After);

/// <summary>Everything one comparison run measured.</summary>
internal sealed record CompareResults(
    DateTimeOffset Started,
    TimeSpan Elapsed,
    MachineInfo Machine,
    IReadOnlyDictionary<string, string> Versions,
    CompareSettings Settings,
    IReadOnlyList<string> Targets,
    IReadOnlyDictionary<string, LoadFigures> C1,
    IReadOnlyDictionary<string, LoadFigures> C32,
    IReadOnlyDictionary<string, LoadFigures> C128,
    IReadOnlyDictionary<string, StepFigures> Slow,
    IReadOnlyDictionary<string, StreamFigures> Streaming,
    IReadOnlyDictionary<string, MemoryFigures> Memory,
    LedgerCheck? Ledger);

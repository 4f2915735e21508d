using System.CommandLine;
using Tollgate.Bench.Infrastructure;

namespace Tollgate.Bench.Compare;

/// <summary><c>compare</c>: the full comparison with direct, nginx and Portkey; prints the report and writes it under bench/results.</summary>
internal static class CompareCommand
{
    public static Command Create()
    {
        var rounds = new Option<int?>("--rounds") { Description = "Rounds per measurement (default 3; --quick: 1)" };
        var roundSeconds = new Option<int?>("--round-seconds") { Description = "Seconds per target per round (default 4; --quick: 2)" };
        var skipPortkey = new Option<bool>("--skip-portkey") { Description = "Leave Portkey out (its checks show as not measured)" };
        var quick = new Option<bool>("--quick") { Description = "A short smoke run: 1 round of 2 s, fewer levels and streams; not a result" };
        var command = new Command("compare", "Tollgate against direct calls, nginx and Portkey, interleaved in one run (the default)")
        {
            rounds, roundSeconds, skipPortkey, quick,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = CompareSettings.Create(parse.GetValue(rounds), parse.GetValue(roundSeconds), parse.GetValue(skipPortkey), parse.GetValue(quick));
            if (settings.Rounds < 1 || settings.Round < TimeSpan.FromSeconds(1))
            {
                await Console.Error.WriteLineAsync("--rounds and --round-seconds must be at least 1");
                return 2;
            }

            var paths = BenchPaths.Find();
            var results = await new CompareRun(settings, paths, Console.Error).RunAsync(cancellationToken);
            var report = Report.Build(results);
            Console.WriteLine(report);
            var written = ResultFiles.Write(paths, results.Started, "", report);
            await Console.Error.WriteLineAsync($"Report written to {written} and {Path.Combine(paths.Results, "latest.md")}");
            return 0;
        });
        return command;
    }
}

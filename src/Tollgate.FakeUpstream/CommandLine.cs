using System.Globalization;

namespace Tollgate.FakeUpstream;

/// <summary>The command line of the fake upstream, parsed by hand (a handful of options).</summary>
internal sealed record CommandLine(int Port, FakeUpstreamOptions Options, bool ShowHelp)
{
    public const string Usage = """
        Usage: dotnet run --project src/Tollgate.FakeUpstream -- [options]

          --port N       port on 127.0.0.1 (default 8081; 0 picks a free one)
          --delay-ms N   wait before the first byte of every answer (default 0)
          --chunks N     content chunks (words) per answer (default 8)
          --gap-ms N     wait between two streamed chunks (default 0)
          --no-usage     answer without token usage
          --help         show this text
        """;

    /// <summary>Parses <paramref name="args"/>; on failure <paramref name="error"/> says which argument and why.</summary>
    public static bool TryParse(string[] args, out CommandLine commandLine, out string? error)
    {
        var port = 8081;
        var delayMs = 0;
        var gapMs = 0;
        var scenario = new Scenario();
        var showHelp = false;
        error = null;
        commandLine = new CommandLine(port, new FakeUpstreamOptions(), ShowHelp: false);

        for (var i = 0; i < args.Length && error is null; i++)
        {
            switch (args[i])
            {
                case "--port":
                    error = ReadNumber(args, ref i, max: 65535, out port);
                    break;
                case "--delay-ms":
                    error = ReadNumber(args, ref i, max: int.MaxValue, out delayMs);
                    break;
                case "--chunks":
                    error = ReadNumber(args, ref i, max: 100_000, out var chunks);
                    scenario = scenario with { Chunks = chunks };
                    break;
                case "--gap-ms":
                    error = ReadNumber(args, ref i, max: int.MaxValue, out gapMs);
                    break;
                case "--no-usage":
                    scenario = scenario with { Usage = false };
                    break;
                case "--help" or "-h" or "-?":
                    showHelp = true;
                    break;
                default:
                    error = $"Unknown argument '{args[i]}'.";
                    break;
            }
        }

        if (error is not null)
        {
            return false;
        }

        var options = new FakeUpstreamOptions
        {
            // A benchmark sends millions of requests: keep none of them.
            RecordRequests = false,
            Default = scenario with
            {
                FirstByteDelay = TimeSpan.FromMilliseconds(delayMs),
                ChunkGap = TimeSpan.FromMilliseconds(gapMs),
            },
        };
        commandLine = new CommandLine(port, options, showHelp);
        return true;
    }

    private static string? ReadNumber(string[] args, ref int i, int max, out int value)
    {
        var name = args[i];
        value = 0;
        if (i + 1 >= args.Length)
        {
            return $"{name} needs a value.";
        }

        var text = args[++i];
        return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value) && value <= max
            ? null
            : $"{name} needs a whole number from 0 to {max}, not '{text}'.";
    }
}

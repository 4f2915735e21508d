using System.Runtime.InteropServices;

namespace Tollgate.FakeUpstream;

/// <summary>
/// <c>dotnet run --project src/Tollgate.FakeUpstream -- --port 8081 [--delay-ms 0] [--chunks 8] [--gap-ms 0] [--no-usage]</c>:
/// serves the default scenario on 127.0.0.1 until Ctrl+C.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (!CommandLine.TryParse(args, out var commandLine, out var error))
        {
            await Console.Error.WriteLineAsync(error + "\n\n" + CommandLine.Usage);
            return 2;
        }

        if (commandLine.ShowHelp)
        {
            Console.WriteLine(CommandLine.Usage);
            return 0;
        }

        FakeUpstreamServer server;
        try
        {
            server = await FakeUpstreamServer.StartAsync(commandLine.Options, commandLine.Port, consoleWarnings: true);
        }
        catch (IOException exception)
        {
            await Console.Error.WriteLineAsync($"Cannot listen on 127.0.0.1:{commandLine.Port}: {exception.Message}");
            return 1;
        }

        await using (server)
        {
            var scenario = commandLine.Options.Default;
            var root = server.BaseAddress.ToString().TrimEnd('/');
            Console.WriteLine($$"""
                Fake upstream listening on {{root}}
                  OpenAI base URL:    {{root}}/v1   (POST /v1/chat/completions, GET /v1/models)
                  Anthropic base URL: {{root}}      (POST /v1/messages; any x-api-key)
                For Tollgate's settings (any model name and any API key work):
                  "Providers": {
                    "fake-openai":    { "Type": "openai",    "BaseUrl": "{{root}}/v1", "ApiKey": "fake" },
                    "fake-anthropic": { "Type": "anthropic", "BaseUrl": "{{root}}",    "ApiKey": "fake" }
                  }
                Every answer: {{scenario.Chunks}} chunks, {{scenario.FirstByteDelay.TotalMilliseconds}} ms before the first byte, {{scenario.ChunkGap.TotalMilliseconds}} ms between chunks, usage {{(scenario.Usage ? "on" : "off")}}.
                Press Ctrl+C to stop.
                """);
            await StopRequestedAsync();
        }

        return 0;
    }

    /// <summary>Completes on Ctrl+C (SIGINT) or SIGTERM.</summary>
    private static async Task StopRequestedAsync()
    {
        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }

        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
        await stop.Task;
    }
}

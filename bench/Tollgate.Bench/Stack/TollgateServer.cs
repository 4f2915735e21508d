using System.Globalization;
using Tollgate.Bench.Infrastructure;

namespace Tollgate.Bench.Stack;

/// <summary>
/// Tollgate as it ships, everything on: the Release build, its default SQLite storage in a fresh
/// file, a real account and key made with its own CLI, credits, and a model per fake upstream
/// priced like a real one, so every request is authenticated, reserved, settled and recorded.
/// </summary>
internal sealed class TollgateServer
{
    public const string Email = "bench@example.com";

    /// <summary>USD per token: $1 per million prompt tokens, $2 per million completion tokens.</summary>
    public const decimal PromptPrice = 0.000001m;

    public const decimal CompletionPrice = 0.000002m;

    private TollgateServer(Target target, ChildProcess process, string databasePath)
    {
        Target = target;
        Process = process;
        DatabasePath = databasePath;
    }

    public Target Target { get; }

    public ChildProcess Process { get; }

    public string DatabasePath { get; }

    public static async Task<TollgateServer> StartAsync(ChildProcesses processes, BenchPaths paths, string folder,
        IReadOnlyDictionary<Upstream, Uri> roots, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(folder);
        var databasePath = Path.Combine(folder, "tollgate.db");
        var port = Ports.Free();
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_ENVIRONMENT"] = "Production",
            ["Tollgate__Storage__SqlitePath"] = databasePath,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        var index = 0;
        foreach (var (upstream, root) in roots)
        {
            var provider = "fake" + upstream.ToString().ToLowerInvariant();
            environment[$"Tollgate__Providers__{provider}__Type"] = "openai";
            environment[$"Tollgate__Providers__{provider}__BaseUrl"] = $"{root.ToString().TrimEnd('/')}/v1";
            var model = $"Tollgate__Models__{index.ToString(CultureInfo.InvariantCulture)}__";
            environment[model + "Id"] = ModelId(upstream);
            environment[model + "Pricing__Prompt"] = PromptPrice.ToString(CultureInfo.InvariantCulture);
            environment[model + "Pricing__Completion"] = CompletionPrice.ToString(CultureInfo.InvariantCulture);
            environment[model + "Deployments__0__Provider"] = provider;
            environment[model + "Deployments__0__Model"] = "fake-model";
            index++;
        }

        // The account, key and credits, made before the server starts, the way an operator would.
        var workingDirectory = Path.GetDirectoryName(paths.TollgateDll)!;
        await CliAsync(["accounts", "create", "--email", Email, "--name", "bench"]);
        var keyOutput = await CliAsync(["keys", "create", "--email", Email, "--name", "bench"]);
        var secret = keyOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .LastOrDefault(l => l.StartsWith("sk-tg-", StringComparison.Ordinal))
            ?? throw new InvalidOperationException("keys create printed no secret:\n" + keyOutput);
        await CliAsync(["credits", "grant", "--email", Email, "--amount", "1000000", "--note", "benchmark"]);

        var process = processes.Start("tollgate", "dotnet", [paths.TollgateDll], environment, workingDirectory);
        var headers = new Dictionary<string, string> { ["Authorization"] = "Bearer " + secret };
        var target = new Target(Target.Tollgate, roots.Keys.ToDictionary(u => u, u => new ChatEndpoint(
            new Uri($"http://127.0.0.1:{port}/api/v1/chat/completions"), ModelId(u), headers)), process.Id);
        return new TollgateServer(target, process, databasePath);

        async Task<string> CliAsync(string[] arguments)
        {
            var (exitCode, output) = await ChildProcesses.RunToEndAsync("dotnet", [paths.TollgateDll, .. arguments], environment, workingDirectory, cancellationToken);
            return exitCode == 0
                ? output
                : throw new InvalidOperationException($"Tollgate {string.Join(' ', arguments)} failed ({exitCode}):\n{output}");
        }
    }

    /// <summary>Stops the server with SIGTERM so that it finishes its writes, as an operator would.</summary>
    public Task StopAsync() => Process.TerminateAsync(TimeSpan.FromSeconds(20));

    public static string ModelId(Upstream upstream) => "bench/" + upstream.ToString().ToLowerInvariant();

    public Uri ReadyUrl => new(Target.Endpoints.Values.First().Url, "/readyz");
}

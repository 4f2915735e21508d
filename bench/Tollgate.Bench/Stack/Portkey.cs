using System.Globalization;
using System.Text.Json;
using Tollgate.Bench.Infrastructure;

namespace Tollgate.Bench.Stack;

/// <summary>Portkey's open-source gateway (<c>@portkey-ai/gateway</c> from npm), pointed at the fakes with its custom-host header.</summary>
internal static class Portkey
{
    public static Target Start(ChildProcesses processes, BenchPaths paths, IReadOnlyDictionary<Upstream, Uri> roots)
    {
        var script = Path.Combine(paths.PortkeyPackage, "build/start-server.js");
        if (!File.Exists(script))
        {
            throw new InvalidOperationException($"{script} is missing: bench/run.sh installs @portkey-ai/gateway into bench/.tools (or pass --skip-portkey).");
        }

        var port = Ports.Free();
        var process = processes.Start("portkey", "node", [script, "--headless", $"--port={port.ToString(CultureInfo.InvariantCulture)}"],
            new Dictionary<string, string> { ["NODE_ENV"] = "production" });
        return new Target(Target.Portkey, roots.ToDictionary(r => r.Key, r => new ChatEndpoint(
            new Uri($"http://127.0.0.1:{port}/v1/chat/completions"), "fake-model", new Dictionary<string, string>
            {
                ["x-portkey-provider"] = "openai",
                ["x-portkey-custom-host"] = $"http://127.0.0.1:{r.Value.Port}/v1",
                ["Authorization"] = "Bearer anything",
            })), process.Id);
    }

    /// <summary>The installed package's version, or null when it is not installed.</summary>
    public static string? Version(BenchPaths paths)
    {
        var file = Path.Combine(paths.PortkeyPackage, "package.json");
        if (!File.Exists(file))
        {
            return null;
        }

        using var document = JsonDocument.Parse(File.ReadAllText(file));
        return document.RootElement.TryGetProperty("version", out var version) ? version.GetString() : null;
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Tollgate.Tests.Infrastructure;

/// <summary>Runs the built Tollgate executable as a newcomer would, in its own working folder.</summary>
internal sealed partial class TollgateProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private TollgateProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _output.Enqueue(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Output => string.Join('\n', _output);

    public bool HasExited => _process.HasExited;

    public static ProcessStartInfo StartInfo(string workingDirectory, IEnumerable<string> args, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Tollgate.dll"));
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Start from a clean environment as far as Tollgate's settings go.
        foreach (var key in info.Environment.Keys.Where(k => k.StartsWith("Tollgate__", StringComparison.OrdinalIgnoreCase) || k.StartsWith("ASPNETCORE_", StringComparison.Ordinal)).ToArray())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        return info;
    }

    /// <summary>Runs a command to completion; returns its exit code, standard output and standard error.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string workingDirectory, params string[] args)
    {
        using var process = Process.Start(StartInfo(workingDirectory, args))!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the server on a free port and waits until it listens.</summary>
    public static async Task<(TollgateProcess Server, Uri Address)> StartServerAsync(string workingDirectory, IDictionary<string, string>? environment = null)
    {
        var server = new TollgateProcess(Process.Start(StartInfo(workingDirectory, ["--urls", "http://127.0.0.1:0"], environment))!);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (ListeningOn().Match(server.Output) is { Success: true } match)
            {
                return (server, new Uri(match.Groups[1].Value));
            }

            if (server.HasExited)
            {
                break;
            }

            await Task.Delay(50);
        }

        var output = server.Output;
        await server.DisposeAsync();
        throw new InvalidOperationException("Tollgate did not start:\n" + output);
    }

    /// <summary>SIGKILL: no shutdown, no flush, nothing Tollgate can do about it.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancellation = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancellation.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    [GeneratedRegex(@"Now listening on: (http://127\.0\.0\.1:\d+)")]
    private static partial Regex ListeningOn();
}

using System.Diagnostics;
using System.Globalization;

namespace Tollgate.Bench.Infrastructure;

/// <summary>
/// Every process the benchmark starts, so that all of them are stopped whatever happens: on
/// dispose (the <c>finally</c> of a command), on Ctrl+C or SIGTERM (the process-exit hook), and
/// by <c>bench/run.sh</c>'s trap, which reads the pid file this class keeps up to date.
/// </summary>
internal sealed class ChildProcesses : IDisposable
{
    private readonly List<ChildProcess> _children = [];
    private readonly Lock _lock = new();
    private readonly string? _pidFile;

    public ChildProcesses(string logFolder)
    {
        LogFolder = logFolder;
        Directory.CreateDirectory(logFolder);
        _pidFile = Environment.GetEnvironmentVariable("TOLLGATE_BENCH_PIDFILE");
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
    }

    /// <summary>Where each child's standard output and error go, one file per child.</summary>
    public string LogFolder { get; }

    /// <summary>
    /// Starts <paramref name="file"/> with its output appended to <c>LogFolder/name.log</c>. The
    /// shell only redirects and then <c>exec</c>s, so the process id is the program's own.
    /// </summary>
    public ChildProcess Start(string name, string file, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var log = Path.Combine(LogFolder, name + ".log");
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = workingDirectory ?? "" };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("exec \"$0\" \"$@\" >>\"$TOLLGATE_BENCH_CHILD_LOG\" 2>&1 </dev/null");
        info.ArgumentList.Add(file);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        info.Environment["TOLLGATE_BENCH_CHILD_LOG"] = log;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {name} ({file})");
        var child = new ChildProcess(name, process, log);
        lock (_lock)
        {
            _children.Add(child);
            WritePidFile();
        }

        return child;
    }

    /// <summary>The child with process id <paramref name="id"/>, if this class started it.</summary>
    public ChildProcess? Find(int id)
    {
        lock (_lock)
        {
            return _children.FirstOrDefault(c => c.Id == id);
        }
    }

    /// <summary>Runs a command to its end and returns its exit code and output (for CLI set-up and version probes).</summary>
    public static async Task<(int ExitCode, string Output)> RunToEndAsync(string file, IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string>? environment, string? workingDirectory, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        try
        {
            await process.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        KillAll();
    }

    private void OnProcessExit(object? sender, EventArgs e) => KillAll();

    /// <summary>
    /// SIGTERM to every child first, so each stops its own way (nginx's master reaps its workers),
    /// then kills the process tree of any still running after 5 s.
    /// </summary>
    private void KillAll()
    {
        lock (_lock)
        {
            var running = _children.Where(c => !c.HasExited).ToList();
            if (running.Count > 0)
            {
                try
                {
                    using var term = Process.Start("kill", ["-TERM", .. running.Select(c => c.Id.ToString(CultureInfo.InvariantCulture))]);
                    term.WaitForExit(5000);
                }
                catch (System.ComponentModel.Win32Exception)
                {
                    // No kill(1): the kill below still stops them.
                }

                var deadline = DateTime.UtcNow.AddSeconds(5);
                foreach (var child in running)
                {
                    child.WaitForExit(deadline - DateTime.UtcNow);
                }
            }

            for (var i = _children.Count - 1; i >= 0; i--)
            {
                _children[i].Kill();
            }

            _children.Clear();
            WritePidFile();
        }
    }

    private void WritePidFile()
    {
        if (_pidFile is not null)
        {
            File.WriteAllLines(_pidFile, _children.Where(c => !c.HasExited).Select(c => c.Id.ToString(CultureInfo.InvariantCulture)));
        }
    }
}

/// <summary>One running child process.</summary>
internal sealed class ChildProcess(string name, Process process, string logPath)
{
    public string Name { get; } = name;

    public int Id { get; } = process.Id;

    public string LogPath { get; } = logPath;

    public bool HasExited
    {
        get
        {
            try
            {
                return process.HasExited;
            }
            catch (InvalidOperationException)
            {
                return true;
            }
        }
    }

    /// <summary>The last lines of the child's output, for error messages.</summary>
    public string LogTail(int lines = 20)
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>Asks the process to stop with SIGTERM (a graceful shutdown); kills it if it has not exited in time.</summary>
    public async Task TerminateAsync(TimeSpan timeout)
    {
        if (HasExited)
        {
            return;
        }

        using (var kill = Process.Start("kill", ["-TERM", Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
        }
    }

    /// <summary>Waits for the process to exit, at most <paramref name="timeout"/>.</summary>
    public void WaitForExit(TimeSpan timeout)
    {
        try
        {
            process.WaitForExit(timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <summary>Kills the process and everything it started.</summary>
    public void Kill()
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }
}

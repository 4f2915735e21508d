using System.Globalization;

namespace Tollgate.Bench.Infrastructure;

/// <summary>Resident memory from <c>/proc</c>: a process and every descendant (nginx's master and workers).</summary>
internal static class Memory
{
    /// <summary>VmRSS of <paramref name="pid"/> and its descendants, in bytes; null when the process is gone.</summary>
    public static long? TreeRssBytes(int pid)
    {
        var own = RssBytes(pid);
        if (own is null)
        {
            return null;
        }

        var total = own.Value;
        foreach (var child in Descendants(pid))
        {
            total += RssBytes(child) ?? 0;
        }

        return total;
    }

    private static long? RssBytes(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    var kb = line["VmRSS:".Length..].Trim().Split(' ')[0];
                    return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    private static List<int> Descendants(int root)
    {
        var parents = new Dictionary<int, List<int>>();
        foreach (var folder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(folder, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var parent = int.Parse(fields[1], CultureInfo.InvariantCulture);
                if (!parents.TryGetValue(parent, out var children))
                {
                    parents[parent] = children = [];
                }

                children.Add(pid);
            }
            catch (IOException)
            {
            }
        }

        var result = new List<int>();
        var queue = new Queue<int>([root]);
        while (queue.TryDequeue(out var pid))
        {
            foreach (var child in parents.GetValueOrDefault(pid) ?? [])
            {
                result.Add(child);
                queue.Enqueue(child);
            }
        }

        return result;
    }
}

/// <summary>Samples the resident memory of some processes every 250 ms and keeps each one's peak.</summary>
internal sealed class RssSampler : IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, int> _processes;
    private readonly Dictionary<string, long> _peaks = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public RssSampler(IReadOnlyDictionary<string, int> processes)
    {
        _processes = processes;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The highest resident memory seen for <paramref name="name"/>, in bytes.</summary>
    public long? Peak(string name)
    {
        lock (_peaks)
        {
            return _peaks.TryGetValue(name, out var peak) ? peak : null;
        }
    }

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        try
        {
            do
            {
                Sample();
            }
            while (await timer.WaitForNextTickAsync(_stop.Token));
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    private void Sample()
    {
        foreach (var (name, pid) in _processes)
        {
            if (Memory.TreeRssBytes(pid) is { } rss)
            {
                lock (_peaks)
                {
                    _peaks[name] = Math.Max(rss, _peaks.GetValueOrDefault(name));
                }
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}

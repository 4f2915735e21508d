using System.Globalization;
using System.Runtime.InteropServices;

namespace Tollgate.Bench.Infrastructure;

/// <summary>What the report says about the machine and the tools, read once at the start.</summary>
internal sealed record MachineInfo(string Cores, string Memory, string Os, string DotNet, string LoadAverage)
{
    public static MachineInfo Read()
    {
        var memTotal = ReadFirst("/proc/meminfo", "MemTotal:")?.Split(' ', StringSplitOptions.RemoveEmptyEntries) is [_, var kb, ..]
            ? $"{long.Parse(kb, CultureInfo.InvariantCulture) / 1024.0 / 1024.0:0.0} GiB"
            : "?";
        var os = ReadFirst("/etc/os-release", "PRETTY_NAME=")?["PRETTY_NAME=".Length..].Trim('"') ?? RuntimeInformation.OSDescription;
        var load = TryRead("/proc/loadavg")?.Split(' ') is [var one, var five, var fifteen, ..] ? $"{one} {five} {fifteen}" : "?";
        return new MachineInfo(Environment.ProcessorCount.ToString(CultureInfo.InvariantCulture), memTotal, os,
            RuntimeInformation.FrameworkDescription, load);
    }

    private static string? ReadFirst(string path, string prefix) =>
        TryRead(path)?.Split('\n').FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));

    private static string? TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (IOException)
        {
            return null;
        }
    }
}

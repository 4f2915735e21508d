namespace Tollgate.Bench.Infrastructure;

/// <summary>Where the built programs and tools are, found from the repository root.</summary>
internal sealed record BenchPaths(string Root)
{
    public string TollgateDll => Path.Combine(Root, "src/Tollgate/bin/Release/net10.0/Tollgate.dll");

    public string FakeUpstreamDll => Path.Combine(Root, "src/Tollgate.FakeUpstream/bin/Release/net10.0/Tollgate.FakeUpstream.dll");

    public string Tools => Path.Combine(Root, "bench/.tools");

    public string PortkeyPackage => Path.Combine(Tools, "node_modules/@portkey-ai/gateway");

    public string Results => Path.Combine(Root, "bench/results");

    /// <summary>The repository root: the first folder up from the program (or the working folder) that holds Tollgate.slnx.</summary>
    public static BenchPaths Find()
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var folder = new DirectoryInfo(start); folder is not null; folder = folder.Parent)
            {
                if (File.Exists(Path.Combine(folder.FullName, "Tollgate.slnx")))
                {
                    return new BenchPaths(folder.FullName);
                }
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (Tollgate.slnx) from here; run the benchmark from the repository.");
    }

    /// <summary>Fails early, naming what to build, when a built program is missing.</summary>
    public void RequireBuilt()
    {
        foreach (var dll in new[] { TollgateDll, FakeUpstreamDll })
        {
            if (!File.Exists(dll))
            {
                throw new InvalidOperationException($"{dll} is missing: build in Release first (bench/run.sh does).");
            }
        }
    }
}

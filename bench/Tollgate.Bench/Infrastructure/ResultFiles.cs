namespace Tollgate.Bench.Infrastructure;

/// <summary>Reports go to bench/results (git-ignored): one file per run and <c>latest.md</c> (or <c>latest-soak.md</c>).</summary>
internal static class ResultFiles
{
    public static string Write(BenchPaths paths, DateTimeOffset started, string suffix, string markdown)
    {
        Directory.CreateDirectory(paths.Results);
        var file = Path.Combine(paths.Results, $"{started:yyyy-MM-dd-HHmm}{suffix}.md");
        File.WriteAllText(file, markdown);
        File.WriteAllText(Path.Combine(paths.Results, $"latest{suffix}.md"), markdown);
        return file;
    }
}

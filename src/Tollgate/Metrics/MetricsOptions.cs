namespace Tollgate.Metrics;

/// <summary>The Prometheus endpoint (<c>Tollgate:Metrics</c>).</summary>
internal sealed class MetricsOptions
{
    public const string Section = "Tollgate:Metrics";

    /// <summary>Serve the metrics endpoint. Off, nothing is recorded and the path answers 404.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Where Prometheus scrapes, without credentials: model ids and totals, never a key or a prompt.</summary>
    public string Path { get; set; } = "/metrics";

    internal IEnumerable<string> Validate()
    {
        if (string.IsNullOrEmpty(Path) || Path[0] != '/' || Path.Length is < 2 or > 200 ||
            !Path.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '-' or '_' or '.'))
        {
            yield return $"{Section}:Path must start with / and hold only letters, digits, '/', '-', '_' and '.' (such as /metrics)";
        }
        else if (Path.StartsWith("/api/", StringComparison.OrdinalIgnoreCase) || Path.TrimEnd('/').ToUpperInvariant() is "/API" or "/HEALTHZ" or "/READYZ")
        {
            yield return $"{Section}:Path must not be under /api/ nor /healthz or /readyz";
        }
    }
}

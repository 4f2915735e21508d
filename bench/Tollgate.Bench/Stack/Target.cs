namespace Tollgate.Bench.Stack;

/// <summary>The three behaviours of the fake upstream the benchmark needs, one fake process each.</summary>
internal enum Upstream
{
    /// <summary>Answers at once: what a gateway adds is all there is to see.</summary>
    Zero,

    /// <summary>Waits 20 ms before answering, like a (very fast) model.</summary>
    Slow,

    /// <summary>Streams 64 chunks 20 ms apart.</summary>
    Stream,
}

/// <summary>Where to send a chat completion for one upstream behaviour: the URL, the model name and the headers.</summary>
internal sealed record ChatEndpoint(Uri Url, string Model, IReadOnlyDictionary<string, string> Headers);

/// <summary>A way to reach the fake upstream: directly, through nginx, Portkey or Tollgate.</summary>
internal sealed record Target(string Name, IReadOnlyDictionary<Upstream, ChatEndpoint> Endpoints, int? ProcessId)
{
    public const string Direct = "direct";
    public const string Nginx = "nginx";
    public const string Portkey = "Portkey";
    public const string Tollgate = "Tollgate";
}

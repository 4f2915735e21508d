using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;
using Prometheus;
using Tollgate.Models;

namespace Tollgate.Metrics;

/// <summary>
/// The chat metrics of SPEC section 8 (docs/metrics.md), in this app's own registry with the
/// process and GC metrics: a registry per app, not prometheus-net's static one, so two Tollgates
/// in one process (the tests) count apart. Label values come only from the catalogue and the
/// configured providers, never from what a client typed, so the number of series stays bounded.
/// Labelled children are looked up once and cached: recording a request costs a few dictionary
/// lookups on small keys and no allocation.
/// </summary>
internal sealed class GatewayMetrics
{
    /// <summary>The model label of a request whose model is missing, invalid or not in the catalogue.</summary>
    public const string UnknownModel = "unknown";

    /// <summary>The provider label of a request that never reached an upstream.</summary>
    public const string NoProvider = "none";

    /// <summary>Upstream waits: a fast first byte to a long non-streamed answer (25 ms to 5 min).</summary>
    internal static readonly double[] UpstreamBuckets = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60, 120, 300];

    /// <summary>Time to first token: what a person feels (25 ms to 1 min).</summary>
    internal static readonly double[] FirstTokenBuckets = [0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 30, 60];

    /// <summary>Tollgate's own work per request: tens of microseconds when all is well (25 µs to 1 s).</summary>
    internal static readonly double[] AddedLatencyBuckets =
        [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

    private readonly ModelCatalog _catalog;
    private readonly Counter _requests;
    private readonly Histogram _upstream;
    private readonly Histogram _firstToken;
    private readonly Counter _tokens;
    private readonly Counter _cost;
    private readonly Histogram.Child _addedWhole;
    private readonly Histogram.Child _addedStreamed;
    private readonly ConcurrentDictionary<(string Model, string Provider, int Status, bool Streamed), Counter.Child> _requestSeries = new();
    private readonly ConcurrentDictionary<(string Model, string Provider), CallSeries> _callSeries = new();

    public GatewayMetrics(ModelCatalog catalog, IOptions<MetricsOptions> options)
    {
        _catalog = catalog;
        Enabled = options.Value.Enabled;
        Registry = Prometheus.Metrics.NewCustomRegistry();
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        if (Enabled)
        {
            DotNetStats.Register(Registry);
        }

        _requests = factory.CreateCounter("tollgate_chat_requests_total",
            "Chat completion requests past authentication, by requested model, provider, HTTP status and streaming.",
            ["model", "provider", "status", "streamed"]);
        _upstream = factory.CreateHistogram("tollgate_upstream_seconds",
            "Time awaiting the upstream: the whole routed call with retries (non-streamed), until the first chunk (streamed).",
            ["model", "provider"], new HistogramConfiguration { Buckets = UpstreamBuckets });
        _firstToken = factory.CreateHistogram("tollgate_time_to_first_token_seconds",
            "Streamed requests: from the request's arrival to its first chunk written to the client.",
            ["model", "provider"], new HistogramConfiguration { Buckets = FirstTokenBuckets });
        _tokens = factory.CreateCounter("tollgate_tokens_total",
            "Tokens charged, by kind: prompt, completion, and cached (the part of prompt read from the provider's cache).",
            ["model", "provider", "kind"]);
        _cost = factory.CreateCounter("tollgate_cost_usd_total", "USD charged for chat completions.", ["model", "provider"]);
        var added = factory.CreateHistogram("tollgate_added_latency_seconds",
            "Tollgate's own time per chat request: its whole time minus the time spent awaiting the upstream.",
            ["streamed"], new HistogramConfiguration { Buckets = AddedLatencyBuckets });
        _addedWhole = added.WithLabels("false");
        _addedStreamed = added.WithLabels("true");
    }

    /// <summary>What <c>/metrics</c> serves.</summary>
    public CollectorRegistry Registry { get; }

    public bool Enabled { get; }

    /// <summary>A measurement for a request that reached the chat endpoint now.</summary>
    public static ChatMeasurement Start() => new(Stopwatch.GetTimestamp());

    /// <summary>Records a request that has ended, once.</summary>
    public void Record(ChatMeasurement call)
    {
        if (!Enabled)
        {
            return;
        }

        var total = Stopwatch.GetTimestamp() - call.Started;
        var requested = call.RequestedModel is { } id && _catalog.TryGet(id, out var model) ? model.Id : UnknownModel;
        var provider = call.Provider ?? NoProvider;
        var status = call.Status != 0 ? call.Status : StatusCodes.Status500InternalServerError;
        _requestSeries.GetOrAdd((requested, provider, status, call.Streamed), static (key, counter) => counter.WithLabels(
            key.Model, key.Provider, key.Status.ToString(CultureInfo.InvariantCulture), key.Streamed ? "true" : "false"), _requests).Inc();
        (call.Streamed ? _addedStreamed : _addedWhole).Observe(Seconds(Math.Max(0, total - call.UpstreamTicks)));

        if (call.Provider is null)
        {
            return;
        }

        var series = _callSeries.GetOrAdd((call.AnsweredModel ?? requested, provider), static (key, self) => new CallSeries(self, key.Model, key.Provider), this);
        if (call.FirstWaitTicks >= 0)
        {
            series.Upstream.Observe(Seconds(call.FirstWaitTicks));
        }

        if (call.FirstChunkAt != 0)
        {
            series.FirstToken.Observe(Seconds(call.FirstChunkAt - call.Started));
        }

        if (call.Charged)
        {
            series.Prompt.Inc(call.PromptTokens);
            series.Completion.Inc(call.CompletionTokens);
            series.Cached.Inc(call.CachedTokens);
            series.Cost.Inc(call.CostNanos / 1e9);
        }
    }

    private static double Seconds(long ticks) => (double)ticks / Stopwatch.Frequency;

    /// <summary>The children of one (model, provider) pair.</summary>
    private sealed class CallSeries(GatewayMetrics metrics, string model, string provider)
    {
        public Histogram.Child Upstream { get; } = metrics._upstream.WithLabels(model, provider);
        public Histogram.Child FirstToken { get; } = metrics._firstToken.WithLabels(model, provider);
        public Counter.Child Prompt { get; } = metrics._tokens.WithLabels(model, provider, "prompt");
        public Counter.Child Completion { get; } = metrics._tokens.WithLabels(model, provider, "completion");
        public Counter.Child Cached { get; } = metrics._tokens.WithLabels(model, provider, "cached");
        public Counter.Child Cost { get; } = metrics._cost.WithLabels(model, provider);
    }
}

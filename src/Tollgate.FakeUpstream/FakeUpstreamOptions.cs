using System.Collections.Concurrent;

namespace Tollgate.FakeUpstream;

/// <summary>
/// How the fake upstream answers. The scenario is chosen per request by the <c>model</c> in the
/// request body: an exact key of <see cref="Scenarios"/>, otherwise <see cref="Default"/>.
/// </summary>
/// <remarks>
/// Safe to change while the server runs: scenarios are immutable records, so tests replace them
/// (<c>options.Scenarios["slow"] = new Scenario { ChunkGap = ... }</c>) and each request sees
/// either the old one or the new one, never a half-updated one.
/// </remarks>
internal sealed class FakeUpstreamOptions
{
    private volatile Scenario _default = new();

    /// <summary>The scenario for model names that have no entry in <see cref="Scenarios"/>.</summary>
    public Scenario Default
    {
        get => _default;
        set => _default = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Scenarios by exact model name.</summary>
    public ConcurrentDictionary<string, Scenario> Scenarios { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// Keep every received request in <see cref="FakeUpstreamServer.Requests"/> (for tests).
    /// The command line turns it off so that a long benchmark does not grow the fake's memory.
    /// </summary>
    public bool RecordRequests { get; set; } = true;

    /// <summary>The clock for delays, <c>created</c> timestamps and request times.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal Scenario ScenarioFor(string? model) =>
        model is not null && Scenarios.TryGetValue(model, out var scenario) ? scenario : Default;
}

/// <summary>One behaviour of the fake upstream. Immutable: derive variants with <c>with</c>.</summary>
internal sealed record Scenario
{
    /// <summary>Wait before anything is sent, response headers included.</summary>
    public TimeSpan FirstByteDelay { get; init => field = NotNegative(value); }

    /// <summary>Content chunks in the answer: word <c>w1</c> to <c>wN</c>, one word per chunk.</summary>
    public int Chunks { get; init => field = NotNegative(value); } = 8;

    /// <summary>Wait between two content chunks of a stream.</summary>
    public TimeSpan ChunkGap { get; init => field = NotNegative(value); }

    /// <summary>Report token usage; when false, no usage object is sent at all.</summary>
    public bool Usage { get; init; } = true;

    /// <summary>
    /// Prompt tokens reported as served from cache: OpenAI <c>prompt_tokens_details.cached_tokens</c>,
    /// Anthropic <c>cache_read_input_tokens</c>.
    /// </summary>
    public int CachedTokens { get; init => field = NotNegative(value); }

    /// <summary>
    /// Answer with one <c>get_weather</c> tool call instead of text; its arguments
    /// <c>{"city":"Paris","unit":"celsius"}</c> arrive in several deltas.
    /// </summary>
    public bool ToolCall { get; init; }

    /// <summary>
    /// Reason before answering: <see cref="Answer.ThinkingChunks"/>, counted in the completion tokens. On the OpenAI endpoint
    /// it comes as <c>reasoning_content</c> (as vLLM and DeepSeek send it). The Anthropic endpoint thinks when the request
    /// enables <c>thinking</c>, as Anthropic does, whatever this says: a signed <c>thinking</c> block first.
    /// </summary>
    public bool Thinking { get; init; }

    /// <summary>Anthropic endpoint, when thinking: a <c>redacted_thinking</c> block follows the thinking block.</summary>
    public bool RedactedThinking { get; init; }

    /// <summary>What goes wrong, if anything.</summary>
    public Fault Fault { get; init; }

    /// <summary>
    /// The message of the error body a fault answers with (default: the fault's own). <c>{credentials}</c> in it is
    /// replaced by the credentials the request carried (<c>Authorization</c> without <c>Bearer</c>, <c>x-api-key</c>),
    /// as upstreams that echo a rejected key do.
    /// </summary>
    public string? ErrorMessage { get; init; }

    /// <summary>
    /// Apply <see cref="Fault"/> only to the first N requests served by this scenario instance,
    /// then answer normally (for retry tests). 0 applies it to every request.
    /// </summary>
    public int FailFirst { get; init => field = NotNegative(value); }

    private static int NotNegative(int value)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(value);
        return value;
    }

    private static TimeSpan NotNegative(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
        return value;
    }
}

/// <summary>A failure the fake upstream can simulate, in the wire format of the endpoint called.</summary>
internal enum Fault
{
    /// <summary>Answer normally.</summary>
    None,

    /// <summary>500 with the format's server error body.</summary>
    Status500,

    /// <summary>429 with <c>Retry-After: 1</c> and the format's rate-limit error body.</summary>
    Status429,

    /// <summary>400 with the format's invalid-request error body.</summary>
    Status400,

    /// <summary>529 with Anthropic's <c>overloaded_error</c> (the same status on the OpenAI endpoint).</summary>
    Status529,

    /// <summary>Send half of the chunks (half of the body when not streaming), then abort the connection.</summary>
    CutMidStream,

    /// <summary>After two good chunks send <c>data: {"broken": </c> and end (a truncated body when not streaming).</summary>
    MalformedSse,

    /// <summary>The first content chunk carries 5 MiB of text.</summary>
    HugeChunk,

    /// <summary>Accept the request and never answer until the client goes away.</summary>
    Hang,

    /// <summary>
    /// Two good chunks, then an error event in the endpoint's format (OpenAI <c>data: {"error":...}</c>, Anthropic
    /// <c>event: error</c>) with the scenario's <see cref="Scenario.ErrorMessage"/>, and the end. A 500 when not streaming.
    /// </summary>
    ErrorMidStream,
}

using System.Diagnostics;
using System.Text.Json;
using Tollgate.Http;

namespace Tollgate.Metrics;

/// <summary>
/// What one chat request did, noted by the gateway as it goes and recorded once, when the request
/// ends, by <see cref="GatewayMetrics.Record"/>. Only the request's own flow touches it: no locking.
/// Times are <see cref="Stopwatch"/> timestamps, so noting one costs a clock read.
/// </summary>
internal sealed class ChatMeasurement(long started)
{
    private long _waitingSince;

    /// <summary>When the request reached the endpoint.</summary>
    public long Started { get; } = started;

    /// <summary>The model id as the client sent it (resolved to a catalogue id, or "unknown", when recorded).</summary>
    public string? RequestedModel { get; private set; }

    public bool Streamed { get; private set; }

    /// <summary>The HTTP status the request ended with; 0 until known.</summary>
    public int Status { get; private set; }

    /// <summary>The provider that answered or last failed; null when no upstream was tried.</summary>
    public string? Provider { get; private set; }

    /// <summary>The catalogue id of the model that answered (a fallback, perhaps); null without an answer.</summary>
    public string? AnsweredModel { get; private set; }

    /// <summary>Stopwatch ticks spent awaiting the upstream: the routed call (retries included) and each next chunk.</summary>
    public long UpstreamTicks { get; private set; }

    /// <summary>Ticks of the first wait: the whole answer for a non-stream, the first chunk for a stream; -1 before it ends.</summary>
    public long FirstWaitTicks { get; private set; } = -1;

    /// <summary>When the first chunk of a stream had been written to the client; 0 before that.</summary>
    public long FirstChunkAt { get; private set; }

    /// <summary>True once the call was charged: the token and cost fields below are set.</summary>
    public bool Charged { get; private set; }

    public int PromptTokens { get; private set; }

    public int CompletionTokens { get; private set; }

    public int CachedTokens { get; private set; }

    public long CostNanos { get; private set; }

    public void Requested(string model, bool streamed)
    {
        RequestedModel = model;
        Streamed = streamed;
    }

    /// <summary>The request now awaits the upstream; the wait ends at <see cref="UpstreamAnswered"/> or when the call ends.</summary>
    public void WaitingOnUpstream() => _waitingSince = Stopwatch.GetTimestamp();

    public void UpstreamAnswered()
    {
        if (_waitingSince == 0)
        {
            return;
        }

        var waited = Stopwatch.GetTimestamp() - _waitingSince;
        _waitingSince = 0;
        UpstreamTicks += waited;
        if (FirstWaitTicks < 0)
        {
            FirstWaitTicks = waited;
        }
    }

    public void FirstChunkWritten()
    {
        if (FirstChunkAt == 0)
        {
            FirstChunkAt = Stopwatch.GetTimestamp();
        }
    }

    /// <summary>The call's outcome; a wait still open ended when the outcome became known.</summary>
    public void Ended(int status, string? provider, string? answeredModel)
    {
        UpstreamAnswered();
        Status = status;
        Provider = provider;
        AnsweredModel = answeredModel;
    }

    public void Charge(int promptTokens, int completionTokens, int cachedTokens, long costNanos)
    {
        Charged = true;
        PromptTokens = promptTokens;
        CompletionTokens = completionTokens;
        CachedTokens = cachedTokens;
        CostNanos = costNanos;
    }

    /// <summary>
    /// An exception left the endpoint. Unless the call had already noted its outcome, the status is
    /// the one the error handling answers with; 499 when the client had gone.
    /// </summary>
    public void Failed(Exception exception, bool clientGone)
    {
        UpstreamAnswered();
        if (Status != 0)
        {
            return;
        }

        Status = exception switch
        {
            OperationCanceledException or IOException when clientGone => 499,
            ApiException api => api.StatusCode,
            BadHttpRequestException { InnerException: JsonException } or JsonException => StatusCodes.Status400BadRequest,
            BadHttpRequestException bad => bad.StatusCode,
            _ => StatusCodes.Status500InternalServerError,
        };
    }
}

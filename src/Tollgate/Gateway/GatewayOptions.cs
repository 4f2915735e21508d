namespace Tollgate.Gateway;

/// <summary>How the gateway retries, balances and keeps streams alive (<c>Tollgate:Gateway</c>).</summary>
internal sealed class GatewayOptions
{
    public const string Section = "Tollgate:Gateway";

    /// <summary>Attempts per model (over its deployments) before the next fallback model; 1 means no retry.</summary>
    public int MaxAttemptsPerModel { get; set; } = 3;

    /// <summary>First retry delay; later ones double, with jitter, up to <see cref="RetryMaxDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often <c>: TOLLGATE PROCESSING</c> is sent while a stream waits for the upstream's first byte.</summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Most entries in a request's <c>models</c> fallback list.</summary>
    public int MaxFallbackModels { get; set; } = 5;

    /// <summary>
    /// The largest <c>n</c> (answers per request) accepted; above it, 400. Each answer may use the whole
    /// completion cap, so the reservation is <c>n</c> times the cap.
    /// </summary>
    public int MaxChoices { get; set; } = 16;

    /// <summary>Share of failed calls within <see cref="BreakerSamplingDuration"/> that opens a deployment's circuit.</summary>
    public double BreakerFailureRatio { get; set; } = 0.5;

    /// <summary>Calls needed within the sampling window before the ratio counts.</summary>
    public int BreakerMinimumThroughput { get; set; } = 5;

    public TimeSpan BreakerSamplingDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an open circuit keeps the deployment out before one trial call.</summary>
    public TimeSpan BreakerBreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How <c>reasoning.effort</c> becomes a thinking budget (a share of the completion cap) for Anthropic models.</summary>
    public ReasoningEffortShares ReasoningEffort { get; set; } = new();

    internal IEnumerable<string> Validate()
    {
        foreach (var failure in ReasoningEffort.Validate(Section))
        {
            yield return failure;
        }

        if (MaxAttemptsPerModel is < 1 or > 10)
        {
            yield return $"{Section}:MaxAttemptsPerModel must be between 1 and 10";
        }

        if (RetryBaseDelay < TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            yield return $"{Section}:RetryBaseDelay must not be negative nor above RetryMaxDelay";
        }

        if (KeepAliveInterval < TimeSpan.FromMilliseconds(10))
        {
            yield return $"{Section}:KeepAliveInterval must be at least 00:00:00.010";
        }

        if (MaxFallbackModels is < 0 or > 20)
        {
            yield return $"{Section}:MaxFallbackModels must be between 0 and 20";
        }

        if (MaxChoices is < 1 or > 128)
        {
            yield return $"{Section}:MaxChoices must be between 1 and 128";
        }

        if (BreakerFailureRatio is <= 0 or > 1)
        {
            yield return $"{Section}:BreakerFailureRatio must be above 0 and at most 1";
        }

        if (BreakerMinimumThroughput < 2)
        {
            yield return $"{Section}:BreakerMinimumThroughput must be at least 2";
        }

        if (BreakerSamplingDuration < TimeSpan.FromMilliseconds(500) || BreakerBreakDuration < TimeSpan.FromMilliseconds(500))
        {
            yield return $"{Section}:BreakerSamplingDuration and BreakerBreakDuration must be at least 00:00:00.500";
        }
    }
}

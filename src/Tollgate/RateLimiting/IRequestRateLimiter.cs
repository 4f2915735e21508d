namespace Tollgate.RateLimiting;

/// <summary>
/// Counts a key's requests against its limit. One instance keeps the counters in memory
/// (<see cref="LocalRequestRateLimiter"/>); a cluster keeps them in a shared store behind the same interface.
/// </summary>
internal interface IRequestRateLimiter
{
    /// <summary>Counts one request of <paramref name="keyId"/>, unless <paramref name="requestsPerMinute"/> are used up.</summary>
    ValueTask<RateLimitDecision> AcquireAsync(string keyId, int requestsPerMinute, CancellationToken cancellationToken);
}

/// <summary>What the limiter decided for one request.</summary>
/// <param name="Admitted">False when the key's requests for the current window are used up.</param>
/// <param name="Limit">Requests per window.</param>
/// <param name="Remaining">Requests left in the window after this one.</param>
/// <param name="ResetsAt">When the window ends and the count starts again.</param>
internal readonly record struct RateLimitDecision(bool Admitted, int Limit, int Remaining, DateTimeOffset ResetsAt);

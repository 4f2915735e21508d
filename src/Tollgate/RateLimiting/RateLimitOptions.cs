using Tollgate.ApiKeys;

namespace Tollgate.RateLimiting;

/// <summary>Per-key request rate limits (<c>Tollgate:RateLimits</c>).</summary>
internal sealed class RateLimitOptions
{
    public const string Section = "Tollgate:RateLimits";

    /// <summary>
    /// Requests per minute for every key that has no <c>rate_limit</c> of its own; null or 0 for none.
    /// Each such key counts on its own (the default is not one budget shared by an account's keys).
    /// </summary>
    public int? DefaultRequestsPerMinute { get; set; }

    internal IEnumerable<string> Validate()
    {
        if (DefaultRequestsPerMinute is < 0 or > ApiKeyChanges.MaxRequestsPerMinute)
        {
            yield return $"{Section}:DefaultRequestsPerMinute must be between 0 (none) and {ApiKeyChanges.MaxRequestsPerMinute}";
        }
    }
}

using System.Globalization;
using Tollgate.Credits;
using Tollgate.Http;

namespace Tollgate.ApiKeys;

/// <summary>
/// Containment (SPEC section 5): a key may only create, change, rotate or delete keys that lie within
/// its own authority, as they are and as they would be after the change. A key lies within another
/// when every property that gives power does: its scopes are a subset, its model allow-list allows
/// nothing more, its credit limit is no larger and refills no more often, it expires no later, and
/// its rate limit is no higher. Having no limit, no expiry or no allow-list is wider than having any.
/// A key always lies within itself, so it may always narrow itself; a key with every scope and no
/// bound at all manages every key of its account.
/// </summary>
internal static class ApiKeyAuthority
{
    /// <summary>The first property of <paramref name="target"/> wider than <paramref name="caller"/>'s, or null when none is.</summary>
    public static Excess? FirstExcess(ApiKey caller, ApiKey target)
    {
        if (ApiKeyScopeNames.FirstMissing(caller.Scopes, target.Scopes) is { } missing)
        {
            return new Excess("scopes", $"the '{missing}' scope, which this key does not hold", missing);
        }

        if (!ModelAllowList.Covers(caller.Models, target.Models))
        {
            return new Excess("models", "models outside this key's allow-list");
        }

        if (caller.LimitNanos is { } limit)
        {
            if (target.LimitNanos is not { } targetLimit)
            {
                return new Excess("limit", $"no credit limit, while this key's is {Money.Format(limit)}");
            }

            if (targetLimit > limit)
            {
                return new Excess("limit", $"a credit limit of {Money.Format(targetLimit)}, above this key's {Money.Format(limit)}");
            }

            if (!ResetWithin(caller.LimitReset, target.LimitReset))
            {
                return new Excess("limit_reset",
                    $"a limit that {Refills(target.LimitReset)}, while this key's {Refills(caller.LimitReset)}");
            }
        }

        if (caller.ExpiresAt is { } expires && !(target.ExpiresAt <= expires))
        {
            return new Excess("expires_at", target.ExpiresAt is { } later
                ? $"an expiry of {Format(later)}, after this key's {Format(expires)}"
                : $"no expiry, while this key expires at {Format(expires)}");
        }

        if (caller.RateLimitRequestsPerMinute is { } rate && !(target.RateLimitRequestsPerMinute <= rate))
        {
            return new Excess("rate_limit", target.RateLimitRequestsPerMinute is { } higher
                ? $"a rate limit of {higher} requests per minute, above this key's {rate}"
                : $"no rate limit, while this key's is {rate} requests per minute");
        }

        return null;
    }

    /// <summary>Refuses a key the caller would hand out (a new key, or a key as a change would leave it).</summary>
    /// <exception cref="ApiException">403: <c>missing_scope</c> for a scope, <c>model_not_allowed</c> for models, else <c>exceeds_authority</c>.</exception>
    public static void EnsureMayGrant(ApiKey? caller, ApiKey result)
    {
        if (caller is null || FirstExcess(caller, result) is not { } excess)
        {
            return;
        }

        var reason = excess.Param switch
        {
            "scopes" => "missing_scope",
            "models" => "model_not_allowed",
            _ => "exceeds_authority",
        };
        throw Refuse($"This API key cannot give a key more authority than its own: {excess.Description}", reason, excess);
    }

    /// <summary>Refuses to touch a key wider than the caller, whatever the change (even a narrowing one).</summary>
    /// <exception cref="ApiException">403 <c>exceeds_authority</c>.</exception>
    public static void EnsureMayManage(ApiKey? caller, ApiKey target, string action)
    {
        if (caller is null || FirstExcess(caller, target) is not { } excess)
        {
            return;
        }

        throw Refuse($"This API key cannot {action} a key with more authority than its own: that key has {excess.Description}",
            "exceeds_authority", excess);
    }

    /// <summary>
    /// Whether a limit with reset <paramref name="target"/> can never spend more, in any period of
    /// <paramref name="caller"/>'s reset, than the same amount with <paramref name="caller"/>'s reset.
    /// That holds when each of the caller's periods lies inside one of the target's: a day inside any
    /// week or month, anything inside "never resets". Weeks straddle months, so neither contains the other.
    /// </summary>
    internal static bool ResetWithin(string? caller, string? target) => caller switch
    {
        "daily" => true,
        "weekly" => target is "weekly" or null,
        "monthly" => target is "monthly" or null,
        _ => target is null,
    };

    private static string Refills(string? reset) => reset is null ? "never resets" : $"resets {reset}";

    private static string Format(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static ApiException Refuse(string message, string reason, Excess excess)
    {
        var metadata = new Dictionary<string, object?> { ["reason"] = reason, ["param"] = excess.Param };
        if (excess.MissingScope is not null)
        {
            metadata["required_scope"] = excess.MissingScope;
        }

        return new ApiException(StatusCodes.Status403Forbidden, message, metadata);
    }

    /// <summary>What makes a key wider than the caller.</summary>
    /// <param name="Param">The request field that names the property.</param>
    /// <param name="Description">The property as a phrase, e.g. "a credit limit of $5.00, above this key's $1.00".</param>
    /// <param name="MissingScope">For scopes, the first scope the caller lacks.</param>
    internal sealed record Excess(string Param, string Description, string? MissingScope = null);
}

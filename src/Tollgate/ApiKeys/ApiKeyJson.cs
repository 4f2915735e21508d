using System.Text.Json.Serialization;
using Tollgate.Credits;

namespace Tollgate.ApiKeys;

/// <summary>The <c>Key</c> object of SPEC section 5. Never the secret or its hash.</summary>
internal sealed record KeyDto(
    string Id,
    string Name,
    string Label,
    IReadOnlyList<string> Scopes,
    IReadOnlyList<string>? Models,
    bool Disabled,
    decimal? Limit,
    decimal? LimitRemaining,
    string? LimitReset,
    decimal Usage,
    decimal UsageDaily,
    decimal UsageWeekly,
    decimal UsageMonthly,
    RateLimitDto RateLimit,
    DateTime CreatedAt,
    DateTime? LastUsedAt,
    DateTime? ExpiresAt)
{
    /// <summary>The key with its spend (all time and in the current UTC day, week and month).</summary>
    public static KeyDto From(ApiKey key, KeySpend spend) => new(
        key.Id,
        key.Name,
        key.Label,
        ApiKeyScopeNames.ToNames(key.Scopes),
        key.Models,
        key.Disabled,
        key.LimitNanos is { } limit ? Money.ToUsd(limit) : null,
        RemainingUsd(key, spend),
        key.LimitReset,
        Money.ToUsd(spend.TotalNanos),
        Money.ToUsd(spend.DailyNanos),
        Money.ToUsd(spend.WeeklyNanos),
        Money.ToUsd(spend.MonthlyNanos),
        new RateLimitDto(key.RateLimitRequestsPerMinute),
        ToWire(key.CreatedAt),
        key.LastUsedAt is { } used ? ToWire(used) : null,
        key.ExpiresAt is { } expires ? ToWire(expires) : null);

    /// <summary>
    /// What the key may still spend in its current reset period (all time without a reset), never
    /// below zero; null when it has no limit. Reservations of calls in flight are not subtracted.
    /// </summary>
    public static decimal? RemainingUsd(ApiKey key, KeySpend spend) =>
        key.LimitNanos is { } limit ? Money.ToUsd(Math.Max(0, limit - spend.ForReset(key.LimitReset))) : null;

    /// <summary>UTC, to the millisecond (what storage keeps), so a time reads the same in every response.</summary>
    internal static DateTime ToWire(DateTimeOffset time) =>
        new(time.UtcTicks - time.UtcTicks % TimeSpan.TicksPerMillisecond, DateTimeKind.Utc);
}

internal sealed record RateLimitDto(int? RequestsPerMinute);

internal sealed record KeyListResponse(IReadOnlyList<KeyDto> Data);

internal sealed record KeyResponse(KeyDto Data);

/// <summary>The only response that ever carries a secret (create and rotate).</summary>
internal sealed record KeyWithSecretResponse(KeyDto Data, string Key);

internal sealed record KeyDeletedResponse(KeyDeletedDto Data);

internal sealed record KeyDeletedDto(string Id, bool Deleted);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(KeyListResponse))]
[JsonSerializable(typeof(KeyResponse))]
[JsonSerializable(typeof(KeyWithSecretResponse))]
[JsonSerializable(typeof(KeyDeletedResponse))]
internal sealed partial class ApiKeyJsonContext : JsonSerializerContext;

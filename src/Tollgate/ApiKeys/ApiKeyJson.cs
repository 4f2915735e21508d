using System.Text.Json.Serialization;

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
    private const decimal NanosPerUsd = 1_000_000_000m;

    public static KeyDto From(ApiKey key)
    {
        // Spend per key arrives with the credits feature; until then every key has used nothing.
        const decimal usage = 0m;
        decimal? limit = key.LimitNanos / NanosPerUsd;
        return new KeyDto(
            key.Id,
            key.Name,
            key.Label,
            ApiKeyScopeNames.ToNames(key.Scopes),
            key.Models,
            key.Disabled,
            limit,
            limit is null ? null : Math.Max(0m, limit.Value - usage),
            key.LimitReset,
            usage,
            usage,
            usage,
            usage,
            new RateLimitDto(key.RateLimitRequestsPerMinute),
            ToWire(key.CreatedAt),
            key.LastUsedAt is { } used ? ToWire(used) : null,
            key.ExpiresAt is { } expires ? ToWire(expires) : null);
    }

    /// <summary>UTC, to the millisecond (what storage keeps), so a time reads the same in every response.</summary>
    private static DateTime ToWire(DateTimeOffset time) =>
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

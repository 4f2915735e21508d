using System.Text.Json;
using Tollgate.Http;

namespace Tollgate.ApiKeys;

/// <summary>
/// The fields a create or PATCH request sets. A field that is absent stays as it is (or takes
/// its default on create); a field sent as null is cleared.
/// </summary>
internal sealed record ApiKeyChanges
{
    public const int MaxNameLength = 100;
    public const decimal MaxLimitUsd = 1_000_000_000m;
    public const int MaxRequestsPerMinute = 1_000_000;

    public string? Name { get; init; }
    public ApiKeyScopes? Scopes { get; init; }
    public bool SetsModels { get; init; }
    public IReadOnlyList<string>? Models { get; init; }
    public bool? Disabled { get; init; }
    public bool SetsLimit { get; init; }
    public long? LimitNanos { get; init; }
    public bool SetsLimitReset { get; init; }
    public string? LimitReset { get; init; }
    public bool SetsRateLimit { get; init; }
    public int? RequestsPerMinute { get; init; }
    public bool SetsExpiresAt { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }

    /// <exception cref="ApiException">400 naming the first field that is wrong.</exception>
    public static ApiKeyChanges Parse(JsonElement body, DateTimeOffset now)
    {
        var changes = new ApiKeyChanges();
        if (body.Has("name", out var name))
        {
            var text = name.ReadString("name", MaxNameLength).Trim();
            changes = changes with { Name = text.Length > 0 ? text : throw ApiException.BadRequest("name must not be empty", "name") };
        }

        if (body.Has("scopes", out var scopes))
        {
            changes = changes with { Scopes = ParseScopes(scopes) };
        }

        if (body.Has("models", out var models))
        {
            changes = changes with { SetsModels = true, Models = ParseModels(models) };
        }

        if (body.Has("disabled", out var disabled))
        {
            changes = changes with { Disabled = disabled.ReadBoolean("disabled") };
        }

        if (body.Has("limit", out var limit))
        {
            var usd = limit.ReadNullableDecimal("limit", 0m, MaxLimitUsd);
            changes = changes with { SetsLimit = true, LimitNanos = usd is null ? null : (long)decimal.Round(usd.Value * 1_000_000_000m, MidpointRounding.ToZero) };
        }

        if (body.Has("limit_reset", out var reset))
        {
            var value = reset.ReadNullableString("limit_reset", 16);
            changes = changes with
            {
                SetsLimitReset = true,
                LimitReset = value is null or "daily" or "weekly" or "monthly"
                    ? value
                    : throw ApiException.BadRequest("limit_reset must be \"daily\", \"weekly\", \"monthly\" or null", "limit_reset"),
            };
        }

        if (body.Has("rate_limit", out var rateLimit))
        {
            changes = changes with { SetsRateLimit = true, RequestsPerMinute = ParseRateLimit(rateLimit) };
        }

        if (body.Has("expires_at", out var expiresAt))
        {
            var time = expiresAt.ReadNullableTime("expires_at");
            changes = changes with
            {
                SetsExpiresAt = true,
                ExpiresAt = time is null || time > now ? time : throw ApiException.BadRequest("expires_at must be in the future", "expires_at"),
            };
        }

        return changes;
    }

    private static ApiKeyScopes ParseScopes(JsonElement value)
    {
        var names = value.ReadStringArray("scopes", 16, 32);
        if (names.Count == 0)
        {
            throw ApiException.BadRequest($"scopes must name at least one of: {ApiKeyScopeNames.AllNames}", "scopes");
        }

        var scopes = ApiKeyScopes.None;
        foreach (var name in names)
        {
            scopes |= ApiKeyScopeNames.TryParse(name, out var scope)
                ? scope
                : throw ApiException.BadRequest($"scopes contains the unknown scope '{name}'; known scopes: {ApiKeyScopeNames.AllNames}", "scopes");
        }

        return scopes;
    }

    private static string[]? ParseModels(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var models = value.ReadStringArray("models", ModelAllowList.MaxEntries, ModelAllowList.MaxEntryLength);
        foreach (var model in models)
        {
            if (ModelAllowList.Validate(model) is { } problem)
            {
                throw ApiException.BadRequest($"models entry '{model}' {problem}", "models");
            }
        }

        return models.Distinct(StringComparer.OrdinalIgnoreCase).ToArray();
    }

    private static int? ParseRateLimit(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            throw ApiException.BadRequest("rate_limit must be an object such as {\"requests_per_minute\": 60}, or null", "rate_limit");
        }

        return value.Has("requests_per_minute", out var rpm)
            ? rpm.ReadNullableInt("rate_limit.requests_per_minute", 1, MaxRequestsPerMinute)
            : null;
    }
}

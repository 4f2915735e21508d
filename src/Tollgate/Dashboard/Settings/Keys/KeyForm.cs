using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tollgate.ApiKeys;

namespace Tollgate.Dashboard.Settings.Keys;

/// <summary>
/// The fields of the create and edit forms, turned into the API's own JSON body and read by
/// <see cref="ApiKeyChanges.Parse"/>: the dashboard and <c>POST /api/v1/api-keys</c> accept exactly the same keys,
/// and an error names the same field.
/// </summary>
internal sealed class KeyForm
{
    public string? Name { get; set; }

    /// <summary>USD, blank for none.</summary>
    public string? Limit { get; set; }

    /// <summary><c>none</c>, <c>daily</c>, <c>weekly</c>, <c>monthly</c>.</summary>
    public string? LimitReset { get; set; }

    /// <summary><c>never</c>, <c>30</c>, <c>90</c> (days) or <c>date</c>.</summary>
    public string? Expiry { get; set; }

    /// <summary>A local date (yyyy-MM-dd) when <see cref="Expiry"/> is <c>date</c>: the key works through that day.</summary>
    public string? ExpiresOn { get; set; }

    public List<string> Scopes { get; set; } = [];

    /// <summary>Model ids picked from the catalogue; none (and no pattern) allows every model.</summary>
    public List<string> Models { get; set; } = [];

    /// <summary>Extra allow-list entries such as <c>anthropic/*</c>, comma-separated.</summary>
    public string? ModelPatterns { get; set; }

    /// <summary>Requests per minute, blank for no limit.</summary>
    public string? RateLimit { get; set; }

    /// <summary>The form's fields for an existing key (the edit page starts from them).</summary>
    public static KeyForm From(ApiKey key, TimeZoneInfo zone, IReadOnlyCollection<string> catalogue) => new()
    {
        Name = key.Name,
        Limit = key.LimitNanos is { } nanos ? (nanos / 1_000_000_000m).ToString("0.##########", CultureInfo.InvariantCulture) : null,
        LimitReset = key.LimitReset ?? "none",
        Expiry = key.ExpiresAt is null ? "never" : "date",
        ExpiresOn = key.ExpiresAt is { } at ? DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(at, zone).AddTicks(-1).DateTime).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) : null,
        Scopes = [.. ApiKeyScopeNames.ToNames(key.Scopes)],
        Models = [.. (key.Models ?? []).Where(m => catalogue.Contains(m, StringComparer.OrdinalIgnoreCase))],
        ModelPatterns = string.Join(", ", (key.Models ?? []).Where(m => !catalogue.Contains(m, StringComparer.OrdinalIgnoreCase))),
        RateLimit = key.RateLimitRequestsPerMinute?.ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>The API body these fields mean; <paramref name="includeScopes"/> is false when the form does not show them.</summary>
    /// <exception cref="Http.ApiException">400 naming the field, for values that are not even of the right kind.</exception>
    public ApiKeyChanges ToChanges(DateTimeOffset now, TimeZoneInfo zone, bool includeScopes)
    {
        var body = new JsonObject { ["name"] = Name ?? "" };
        body["limit"] = string.IsNullOrWhiteSpace(Limit)
            ? null
            : decimal.TryParse(Limit.Trim().TrimStart('$'), NumberStyles.Number, CultureInfo.InvariantCulture, out var usd)
                ? JsonValue.Create(usd)
                : throw Http.ApiException.BadRequest("The credit limit must be an amount in US dollars, such as 25 or 2.50", "limit");
        body["limit_reset"] = LimitReset is null or "" or "none" ? null : LimitReset;
        body["expires_at"] = Expiry switch
        {
            null or "" or "never" => null,
            "30" or "90" => JsonValue.Create(now.AddDays(int.Parse(Expiry, CultureInfo.InvariantCulture))),
            "date" => DateOnly.TryParseExact(ExpiresOn, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day)
                ? JsonValue.Create(EndOfLocalDay(day, zone))
                : throw Http.ApiException.BadRequest("Pick the date the key stops working", "expires_at"),
            _ => throw Http.ApiException.BadRequest("Choose when the key expires", "expires_at"),
        };
        if (includeScopes)
        {
            body["scopes"] = new JsonArray([.. Scopes.Take(16).Select(s => (JsonNode?)JsonValue.Create(s))]);
        }

        var models = Models.Concat((ModelPatterns ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            .Take(ModelAllowList.MaxEntries + 1).ToArray();
        body["models"] = models.Length == 0 ? null : new JsonArray([.. models.Select(m => (JsonNode?)JsonValue.Create(m))]);
        body["rate_limit"] = string.IsNullOrWhiteSpace(RateLimit)
            ? null
            : int.TryParse(RateLimit.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var rpm)
                ? new JsonObject { ["requests_per_minute"] = rpm }
                : throw Http.ApiException.BadRequest("The rate limit must be a whole number of requests per minute", "rate_limit");

        using var document = JsonDocument.Parse(body.ToJsonString());
        return ApiKeyChanges.Parse(document.RootElement, now);
    }

    /// <summary>The first instant after the local day: a key "valid through 31 March" stops at midnight that night, local time.</summary>
    internal static DateTimeOffset EndOfLocalDay(DateOnly day, TimeZoneInfo zone)
    {
        var midnight = day.AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        while (zone.IsInvalidTime(midnight))
        {
            midnight = midnight.AddMinutes(15); // a spring-forward gap at midnight: the first real instant after it
        }

        return new DateTimeOffset(midnight, zone.GetUtcOffset(midnight));
    }
}

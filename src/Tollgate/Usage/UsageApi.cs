using System.Globalization;
using Tollgate.ApiKeys;
using Tollgate.Authentication;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.RateLimiting;
using Tollgate.Storage;

namespace Tollgate.Usage;

/// <summary>
/// The read side of usage (SPEC section 6): the calling key, one generation, the list of calls, and aggregates for
/// charts. Aggregates and spend come from rollups, never from scanning the records; the list reads only the rows
/// of its page, through <see cref="UsageService"/>, as the dashboard does.
/// </summary>
internal static class UsageApi
{
    /// <summary>The longest range one <c>/usage</c> call may cover, in days.</summary>
    public const int MaxRangeDays = 366;

    /// <summary>The range <c>/usage</c> covers when <c>from</c> is not given, in days up to and including <c>to</c>.</summary>
    public const int DefaultRangeDays = 30;

    private const string DateFormat = "yyyy-MM-dd";

    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        // Any valid key may read itself: no scope, but the key must authenticate.
        app.MapGet("/api/v1/key", GetKeyAsync).RequireAuthorization(policy => policy
            .AddAuthenticationSchemes(ApiKeyAuthenticationHandler.SchemeName)
            .RequireAuthenticatedUser()).Produces<CurrentKeyResponse>().WithSummary("The calling key: its limit, spend and rate limit.");
        app.MapGet("/api/v1/generation", GetGenerationAsync).RequireScope(ApiKeyScopes.UsageRead).Produces<GenerationResponse>().WithSummary("One call's usage record, by its generation id.");
        app.MapGet("/api/v1/generations", GetGenerationsAsync).RequireScope(ApiKeyScopes.UsageRead).Produces<GenerationsResponse>().WithSummary("The calls, newest first, a page at a time (cursor), filtered by key, model, app and time.");
        app.MapGet("/api/v1/usage", GetUsageAsync).RequireScope(ApiKeyScopes.UsageRead).Produces<UsageResponse>().WithSummary("Usage aggregated by day, and by model, key or app.");
        return app;
    }

    private static async Task<IResult> GetKeyAsync(HttpContext context, IBillingStore billing, KeyRateLimits rateLimits, TimeProvider time,
        CancellationToken cancellationToken)
    {
        var key = context.GetApiKey();
        var spend = await billing.GetKeySpendAsync(key.Id, time.GetUtcNow(), cancellationToken);
        var dto = new CurrentKeyDto(
            key.Label,
            key.LimitNanos is { } limit ? Money.ToUsd(limit) : null,
            KeyDto.RemainingUsd(key, spend),
            key.LimitReset,
            Money.ToUsd(spend.TotalNanos),
            Money.ToUsd(spend.DailyNanos),
            Money.ToUsd(spend.WeeklyNanos),
            Money.ToUsd(spend.MonthlyNanos),
            IsFreeTier: false,
            new RateLimitDto(rateLimits.For(key)), // the limit it is held to: its own, else the default
            key.ExpiresAt is { } expires ? KeyDto.ToWire(expires) : null);
        return TypedResults.Json(new CurrentKeyResponse(dto), UsageJsonContext.Default.CurrentKeyResponse);
    }

    private static async Task<IResult> GetGenerationAsync(HttpContext context, IUsageStore usage, CancellationToken cancellationToken)
    {
        var id = QueryValue(context, "id", maxLength: 200) ?? throw ApiException.BadRequest("id is required (a generation id such as gen-...)", "id");

        // Another account's generation answers exactly like one that does not exist.
        var record = await usage.FindGenerationAsync(context.GetApiKey().AccountId, id, cancellationToken)
            ?? throw ApiException.NotFound("Generation not found");
        return TypedResults.Json(new GenerationResponse(ToDto(record)), UsageJsonContext.Default.GenerationResponse);
    }

    private static async Task<IResult> GetGenerationsAsync(HttpContext context, UsageService usage, CancellationToken cancellationToken)
    {
        var limitText = QueryValue(context, "limit", maxLength: 10);
        var limit = UsageService.DefaultPageSize;
        if (limitText is not null && !int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit))
        {
            throw ApiException.BadRequest($"limit must be a whole number between 1 and {UsageService.MaxPageSize}", "limit");
        }

        var filter = new UsageCallFilter(
            QueryValue(context, "key_id", UsageService.MaxKeyIdLength),
            QueryValue(context, "model", UsageService.MaxModelLength),
            QueryValue(context, "app", UsageService.MaxAppLength),
            QueryTime(context, "from"),
            QueryTime(context, "to"));

        // Another account's key id, model or cursor position selects nothing of it: every query is within the caller's account.
        var page = await usage.GetCallsAsync(context.GetApiKey().AccountId, filter, QueryValue(context, "cursor", UsageCursor.MaxLength), limit,
            cancellationToken);
        var data = page.Calls.Select(call => ToListDto(call.Record)).ToArray();
        return TypedResults.Json(new GenerationsResponse(data, page.NextCursor), UsageJsonContext.Default.GenerationsResponse);
    }

    private static async Task<IResult> GetUsageAsync(HttpContext context, IUsageStore usage, TimeProvider time, CancellationToken cancellationToken)
    {
        var today = DateOnly.FromDateTime(time.GetUtcNow().UtcDateTime);
        var to = QueryDate(context, "to") ?? today;
        var from = QueryDate(context, "from") ?? to.AddDays(1 - DefaultRangeDays);
        if (from > to)
        {
            throw ApiException.BadRequest("from must not be after to", "from");
        }

        if (to.DayNumber - from.DayNumber + 1 > MaxRangeDays)
        {
            throw ApiException.BadRequest($"from and to may cover at most {MaxRangeDays} days", "from");
        }

        var groupByName = QueryValue(context, "group_by", maxLength: 20) ?? "day";
        var groupBy = groupByName switch
        {
            "day" => UsageGrouping.Day,
            "model" => UsageGrouping.Model,
            "key" => UsageGrouping.Key,
            "app" => UsageGrouping.App,
            _ => throw ApiException.BadRequest("group_by must be one of day, model, key, app", "group_by"),
        };

        var query = new UsageQuery(context.GetApiKey().AccountId, from, to, groupBy,
            QueryValue(context, "key_id", maxLength: 100), QueryValue(context, "model", maxLength: 200));
        if (groupBy == UsageGrouping.App && (query.KeyId ?? query.Model) is not null)
        {
            // Apps are rolled up on their own, not per key and model.
            var param = query.KeyId is not null ? "key_id" : "model";
            throw ApiException.BadRequest($"{param} cannot be combined with group_by=app", param);
        }

        var rows = await usage.GetUsageAsync(query, cancellationToken);
        var data = rows.Select(row => new UsageRowDto(
                groupBy == UsageGrouping.Day ? row.Group : null,
                groupBy == UsageGrouping.Model ? row.Group : null,
                groupBy == UsageGrouping.Key ? row.Group : null,
                groupBy == UsageGrouping.App ? row.Group : null,
                row.Requests,
                row.PromptTokens,
                row.CompletionTokens,
                Money.ToUsd(row.CostNanos),
                row.UnpricedRequests))
            .ToArray();
        return TypedResults.Json(new UsageResponse(data, Format(from), Format(to), groupByName), UsageJsonContext.Default.UsageResponse);
    }

    private static GenerationDto ToDto(UsageRecord record) => new(
        record.GenerationId,
        record.Model,
        record.Provider,
        record.Streamed,
        record.Cancelled,
        record.FinishReason,
        record.NativeFinishReason,
        record.PromptTokens,
        record.CompletionTokens,
        record.CachedTokens,
        record.ReasoningTokens,
        Money.ToUsd(record.CostNanos),
        record.Estimated,
        record.LatencyMs,
        // Time spent generating, after the first token; the whole latency when that moment is unknown.
        record.FirstTokenMs is { } firstToken ? Math.Max(0, record.LatencyMs - firstToken) : record.LatencyMs,
        KeyDto.ToWire(record.CreatedAt),
        record.HttpReferer,
        record.AppTitle,
        record.KeyId);

    /// <summary>The record as <c>/generations</c> lists it: the <c>/generation</c> fields and <c>task_id</c>.</summary>
    private static GenerationListItemDto ToListDto(UsageRecord record)
    {
        var dto = ToDto(record);
        return new GenerationListItemDto(dto.Id, dto.Model, dto.ProviderName, dto.Streamed, dto.Cancelled, dto.FinishReason, dto.NativeFinishReason,
            dto.TokensPrompt, dto.TokensCompletion, dto.NativeTokensCached, dto.NativeTokensReasoning, dto.TotalCost, dto.UsageEstimated, dto.Latency, dto.GenerationTime,
            dto.CreatedAt, dto.HttpReferer, dto.AppTitle, dto.ApiKeyId, record.TaskId);
    }

    /// <summary>A query parameter; empty reads as absent, repeated or over-long is a 400 naming it.</summary>
    private static string? QueryValue(HttpContext context, string name, int maxLength)
    {
        var values = context.Request.Query[name];
        if (values.Count > 1)
        {
            throw ApiException.BadRequest($"{name} must be given at most once", name);
        }

        var value = values.ToString();
        if (value.Length > maxLength)
        {
            throw ApiException.BadRequest($"{name} must be at most {maxLength} characters", name);
        }

        return value.Length == 0 ? null : value;
    }

    private static DateOnly? QueryDate(HttpContext context, string name)
    {
        var text = QueryValue(context, name, maxLength: 20);
        if (text is null)
        {
            return null;
        }

        return DateOnly.TryParseExact(text, DateFormat, CultureInfo.InvariantCulture, DateTimeStyles.None, out var date)
            ? date
            : throw ApiException.BadRequest($"{name} must be a date such as 2026-01-31 (YYYY-MM-DD, UTC)", name);
    }

    /// <summary>An instant with its offset, ISO 8601 (<c>2026-05-01T00:00:00Z</c>, <c>2026-05-01T05:30:00+05:30</c>).</summary>
    private static DateTimeOffset? QueryTime(HttpContext context, string name)
    {
        var text = QueryValue(context, name, maxLength: 40);
        if (text is null)
        {
            return null;
        }

        return DateTimeOffset.TryParseExact(text, TimeFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) &&
            time.Year is >= 1970 and <= 9998
            ? time
            : throw ApiException.BadRequest($"{name} must be a time with its offset such as 2026-01-31T00:00:00Z (ISO 8601)", name);
    }

    // An explicit offset or Z is required: a time without one would be read in the server's zone.
    private static readonly string[] TimeFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFF'Z'", "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFzzz", "yyyy-MM-dd'T'HH:mm'Z'", "yyyy-MM-dd'T'HH:mmzzz",
    ];

    private static string Format(DateOnly date) => date.ToString(DateFormat, CultureInfo.InvariantCulture);
}

internal static class UsageExtensions
{
    /// <summary>Registers the usage read store and <see cref="UsageService"/>, which the API and the dashboard share (the write side belongs to <c>AddCredits</c>).</summary>
    public static IHostApplicationBuilder AddUsage(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<UsageService>();
        return builder;
    }
}

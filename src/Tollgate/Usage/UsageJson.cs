using System.Text.Json.Serialization;
using Tollgate.ApiKeys;

namespace Tollgate.Usage;

/// <summary>The calling key as <c>GET /api/v1/key</c> shows it (OpenRouter's shape); USD numbers.</summary>
internal sealed record CurrentKeyDto(
    string Label,
    decimal? Limit,
    decimal? LimitRemaining,
    string? LimitReset,
    decimal Usage,
    decimal UsageDaily,
    decimal UsageWeekly,
    decimal UsageMonthly,
    bool IsFreeTier,
    RateLimitDto RateLimit,
    DateTime? ExpiresAt);

internal sealed record CurrentKeyResponse(CurrentKeyDto Data);

/// <summary>One usage record as <c>GET /api/v1/generation</c> shows it; times in milliseconds, cost in USD.</summary>
internal sealed record GenerationDto(
    string Id,
    string Model,
    string? ProviderName,
    bool Streamed,
    bool Cancelled,
    string? FinishReason,
    string? NativeFinishReason,
    int TokensPrompt,
    int TokensCompletion,
    int NativeTokensCached,
    int NativeTokensReasoning,
    decimal TotalCost,
    bool UsageEstimated,
    long Latency,
    long GenerationTime,
    DateTime CreatedAt,
    string? HttpReferer,
    string? AppTitle,
    string ApiKeyId);

internal sealed record GenerationResponse(GenerationDto Data);

/// <summary>One call as <c>GET /api/v1/generations</c> lists it: the fields of <see cref="GenerationDto"/>, then <c>task_id</c> (X-Task-ID).</summary>
internal sealed record GenerationListItemDto(
    string Id,
    string Model,
    string? ProviderName,
    bool Streamed,
    bool Cancelled,
    string? FinishReason,
    string? NativeFinishReason,
    int TokensPrompt,
    int TokensCompletion,
    int NativeTokensCached,
    int NativeTokensReasoning,
    decimal TotalCost,
    bool UsageEstimated,
    long Latency,
    long GenerationTime,
    DateTime CreatedAt,
    string? HttpReferer,
    string? AppTitle,
    string ApiKeyId,
    string? TaskId);

/// <summary>A page of calls, newest first; <see cref="NextCursor"/> is null on the last page.</summary>
internal sealed record GenerationsResponse(IReadOnlyList<GenerationListItemDto> Data, string? NextCursor);

/// <summary>
/// One row of a usage chart: exactly one of <see cref="Day"/>, <see cref="Model"/>, <see cref="KeyId"/>, <see cref="App"/>
/// is set (<see cref="App"/> is <c>""</c> for calls without an X-Title). <see cref="UnpricedRequests"/> of the requests went
/// to a model without prices: their cost is unknown, not 0.
/// </summary>
internal sealed record UsageRowDto(
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Day,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Model,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? KeyId,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? App,
    long Requests,
    long PromptTokens,
    long CompletionTokens,
    decimal Cost,
    long UnpricedRequests);

/// <summary>The rows, with the range and grouping actually used (defaults filled in).</summary>
internal sealed record UsageResponse(IReadOnlyList<UsageRowDto> Data, string From, string To, string GroupBy);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(CurrentKeyResponse))]
[JsonSerializable(typeof(GenerationResponse))]
[JsonSerializable(typeof(GenerationsResponse))]
[JsonSerializable(typeof(UsageResponse))]
internal sealed partial class UsageJsonContext : JsonSerializerContext;

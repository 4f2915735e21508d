using Tollgate.Credits;

namespace Tollgate.Usage;

/// <summary>
/// The read side of usage (SPEC section 6), shaped by its endpoints. SQLite and PostgreSQL
/// implement it. Charts and spend read the daily rollups, never the records, so they stay fast
/// however many records there are; a single record is found by its generation id.
/// </summary>
internal interface IUsageStore
{
    /// <summary>The record of <paramref name="generationId"/> when it belongs to <paramref name="accountId"/>; null otherwise.</summary>
    Task<UsageRecord?> FindGenerationAsync(string accountId, string generationId, CancellationToken cancellationToken);

    /// <summary>
    /// The spend of every key of the account that spent anything, in one query, for the periods that
    /// contain <paramref name="now"/> (UTC day, week from Monday, month). Keys missing from the answer spent nothing.
    /// </summary>
    Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The account's usage in the query's days, summed per day, model or key.</summary>
    Task<IReadOnlyList<UsageAggregate>> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken);
}

/// <summary>What a usage chart asks for; <see cref="To"/> is inclusive, days are UTC.</summary>
internal sealed record UsageQuery(string AccountId, DateOnly From, DateOnly To, UsageGrouping GroupBy, string? KeyId, string? Model);

internal enum UsageGrouping
{
    Day,
    Model,
    Key,
}

/// <summary>One group's totals. <see cref="Group"/> is the day (<c>yyyy-MM-dd</c>), the model id or the key id.</summary>
internal sealed record UsageAggregate(string Group, long Requests, long PromptTokens, long CompletionTokens, long CostNanos);

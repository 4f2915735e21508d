using Tollgate.Credits;

namespace Tollgate.Usage;

/// <summary>
/// The read side of usage (SPEC section 6 and the dashboard's Usage page), shaped by what they show. SQLite and
/// PostgreSQL implement it. Charts, spend and filter choices read rollups, never the records, so they stay fast
/// however many records there are; a list of calls reads only the rows of its page, through an index that ends in
/// its keyset (created_at, generation_id); a single record is found by its generation id.
/// </summary>
/// <remarks>Every method first waits for the usage records still on their way to the database (<see cref="PendingUsage"/>).</remarks>
internal interface IUsageStore
{
    /// <summary>The record of <paramref name="generationId"/> when it belongs to <paramref name="accountId"/>; null otherwise.</summary>
    Task<UsageRecord?> FindGenerationAsync(string accountId, string generationId, CancellationToken cancellationToken);

    /// <summary>
    /// The spend of every key of the account that spent anything, in one query, for the periods that
    /// contain <paramref name="now"/> (UTC day, week from Monday, month). Keys missing from the answer spent nothing.
    /// </summary>
    Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The spend of the given keys of the account (a page of a list), in one query through the per-key rollup index.</summary>
    Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, IReadOnlyCollection<string> keyIds, DateTimeOffset now,
        CancellationToken cancellationToken);

    /// <summary>The account's usage in the query's UTC days, summed per day, model, key or app.</summary>
    Task<IReadOnlyList<UsageAggregate>> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Up to <see cref="UsageCallQuery.Limit"/> calls matching the query, newest first, after
    /// <see cref="UsageCallQuery.After"/>; <see cref="UsageCallPage.Next"/> is where the next page starts (null: no more).
    /// </summary>
    Task<UsageCallPage> GetCallsAsync(UsageCallQuery query, CancellationToken cancellationToken);

    /// <summary>
    /// Totals per day and group, from the 15-minute rollups. Day <c>i</c> is the buckets from
    /// <c>dayStarts[i]</c> up to <c>dayStarts[i + 1]</c>, so <paramref name="dayStarts"/> has one more entry than
    /// there are days. Only (day, group) pairs with calls are returned.
    /// </summary>
    Task<IReadOnlyList<UsageSeriesRow>> GetSeriesRowsAsync(string accountId, UsageSeriesGrouping groupBy, IReadOnlyList<long> dayStarts,
        CancellationToken cancellationToken);

    /// <summary>
    /// The models, keys and app titles the account used from bucket <paramref name="fromBucket"/> up to (not including)
    /// <paramref name="toBucket"/>, each with its requests, most used first, at most <paramref name="maxEach"/> of each.
    /// </summary>
    Task<UsageFilterChoices> GetFilterChoicesAsync(string accountId, long fromBucket, long toBucket, int maxEach, CancellationToken cancellationToken);

    /// <summary>When the account's newest call was recorded; null when it has none.</summary>
    Task<DateTimeOffset?> GetNewestCallAsync(string accountId, CancellationToken cancellationToken);
}

/// <summary>What a usage aggregate asks for; <see cref="To"/> is inclusive, days are UTC.</summary>
internal sealed record UsageQuery(string AccountId, DateOnly From, DateOnly To, UsageGrouping GroupBy, string? KeyId, string? Model)
{
    /// <summary>At most this many rows for <see cref="UsageGrouping.App"/> (app titles are the client's to choose): the most expensive.</summary>
    public const int MaxAppRows = 1000;
}

internal enum UsageGrouping
{
    Day,
    Model,
    Key,
    App,
}

/// <summary>
/// One group's totals. <see cref="Group"/> is the day (<c>yyyy-MM-dd</c>), the model id, the key id or the app title
/// (<c>""</c>: calls without an X-Title).
/// </summary>
internal sealed record UsageAggregate(string Group, long Requests, long PromptTokens, long CompletionTokens, long CostNanos, long UnpricedRequests);

/// <summary>
/// Sums of calls. <see cref="CostNanos"/> is what was charged; <see cref="UnpricedRequests"/> of the calls went to a
/// model that had no prices then, so their cost is unknown (they are in <see cref="CostNanos"/> as 0): show them as
/// "unpriced", never as $0.
/// </summary>
internal sealed record UsageTotals(long Requests, long PromptTokens, long CompletionTokens, long CostNanos, long UnpricedRequests)
{
    public static readonly UsageTotals Zero = new(0, 0, 0, 0, 0);

    /// <summary>Every call was unpriced: the cost is unknown, show "unpriced" instead of an amount.</summary>
    public bool IsUnpriced => UnpricedRequests > 0 && UnpricedRequests == Requests;

    /// <summary>Some calls were unpriced: the amount is a lower bound ("$1.20 + 3 unpriced calls").</summary>
    public bool HasUnpriced => UnpricedRequests > 0;

    public UsageTotals Add(UsageTotals other) => new(Requests + other.Requests, PromptTokens + other.PromptTokens,
        CompletionTokens + other.CompletionTokens, CostNanos + other.CostNanos, UnpricedRequests + other.UnpricedRequests);
}

/// <summary>What a page of calls asks for: the filters combine (AND); <see cref="From"/> inclusive, <see cref="To"/> exclusive.</summary>
internal sealed record UsageCallQuery(
    string AccountId,
    string? KeyId,
    string? Model,
    string? App,
    DateTimeOffset? From,
    DateTimeOffset? To,
    UsageCallPosition? After,
    int Limit);

/// <summary>A call's place in the newest-first order: the keyset of the list.</summary>
internal readonly record struct UsageCallPosition(long CreatedAtMs, string GenerationId);

/// <summary>One call as the recent-calls list shows it: its record and its key's current name (null when the key is gone).</summary>
internal sealed record UsageCall(UsageRecord Record, string? KeyName);

internal sealed record UsageCallPage(IReadOnlyList<UsageCall> Calls, UsageCallPosition? Next);

internal enum UsageSeriesGrouping
{
    Model,
    Key,
    App,
}

/// <summary>
/// One day's totals of one group. <see cref="Group"/> is the model id, key id or app title (<c>""</c>: none);
/// <see cref="Name"/> is what to show: the key's name for keys (null when the key is gone), else null.
/// </summary>
internal sealed record UsageSeriesRow(int Day, string Group, string? Name, UsageTotals Totals);

/// <summary>A value the page can offer in a filter, with how many calls it had in the range.</summary>
internal sealed record UsageChoice(string Value, string Label, long Requests);

/// <summary>The filter choices of a range: models, keys (label: the key's name) and app titles, most used first.</summary>
internal sealed record UsageFilterChoices(IReadOnlyList<UsageChoice> Models, IReadOnlyList<UsageChoice> Keys, IReadOnlyList<UsageChoice> Apps);

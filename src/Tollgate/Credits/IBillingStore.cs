namespace Tollgate.Credits;

/// <summary>An account's credits: what it holds, what it was given, what it spent (nano-dollars).</summary>
internal sealed record AccountCredits(long BalanceNanos, long CreditsNanos, long UsageNanos);

/// <summary>A key's spend, for its limit and its Key object: all time and in the current UTC day, week (from Monday) and month.</summary>
internal sealed record KeySpend(long TotalNanos, long DailyNanos, long WeeklyNanos, long MonthlyNanos)
{
    public static readonly KeySpend None = new(0, 0, 0, 0);

    /// <summary>The spend that counts against a limit with this reset (null: all time).</summary>
    public long ForReset(string? reset) => reset switch
    {
        "daily" => DailyNanos,
        "weekly" => WeeklyNanos,
        "monthly" => MonthlyNanos,
        _ => TotalNanos,
    };
}

/// <summary>One line of an account's ledger: a grant, refund or adjustment (signed), or a call's charge (negative).</summary>
internal sealed record LedgerEntry(long Id, string Kind, long AmountNanos, string? Reference, string? KeyId, string Actor, string? Note,
    DateTimeOffset CreatedAt);

/// <summary>Which ledger lines to list: all, only charges, or only what is not a charge (grants, refunds, adjustments).</summary>
internal enum LedgerFilter
{
    All,
    Charges,
    Credits,
}

/// <summary>One chat-completion call, as the usage log keeps it.</summary>
internal sealed record UsageRecord
{
    public required string GenerationId { get; init; }
    public required string AccountId { get; init; }
    public required string KeyId { get; init; }
    public required string Model { get; init; }
    public string? Provider { get; init; }
    public string? UpstreamModel { get; init; }
    public int PromptTokens { get; init; }
    public int CompletionTokens { get; init; }
    public int CachedTokens { get; init; }

    /// <summary>Completion tokens spent reasoning (part of <see cref="CompletionTokens"/>).</summary>
    public int ReasoningTokens { get; init; }
    public long CostNanos { get; init; }

    /// <summary>
    /// The model had no prices when the call was billed (<c>ModelDefinition.IsPriced</c> false): its cost of 0 means
    /// unknown, not free, and the dashboard shows it as "unpriced". A call that failed before delivering anything is
    /// free whatever the model, and is not marked.
    /// </summary>
    public bool Unpriced { get; init; }
    public bool Estimated { get; init; }
    public bool Streamed { get; init; }
    public bool Cancelled { get; init; }
    public string? FinishReason { get; init; }
    public string? NativeFinishReason { get; init; }
    public int Status { get; init; }
    public long LatencyMs { get; init; }
    public long? FirstTokenMs { get; init; }
    public string? HttpReferer { get; init; }
    public string? AppTitle { get; init; }
    public string? TaskId { get; init; }
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The credit hold this record settles (PostgreSQL storage); null on SQLite, whose holds are in memory.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string? HoldId { get; init; }
}

/// <summary>What the billing path needs from storage. SQLite and PostgreSQL implement it.</summary>
internal interface IBillingStore
{
    /// <summary>The account's credits; zeros for an account that never had any.</summary>
    Task<AccountCredits> GetCreditsAsync(string accountId, CancellationToken cancellationToken);

    /// <summary>Appends a grant, refund or adjustment (signed) and returns the new credits.</summary>
    Task<AccountCredits> AddCreditsAsync(string accountId, string kind, long amountNanos, string actor, string? reference, string? note,
        DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// The id of the account's newest ledger entry that is not a charge (0: none), so the server can tell a
    /// grant or adjustment it did not write. One indexed lookup; it does not wait for pending usage records
    /// (those only carry charges).
    /// </summary>
    Task<long> GetNewestOutsideEntryAsync(string accountId, CancellationToken cancellationToken);

    /// <summary>
    /// Writes a batch in one transaction (a group commit): each record, its daily rollup, its 15-minute rollups
    /// (per model, key and app) and, when it cost anything, its charge. A generation already charged is not charged
    /// again, nor counted again in any rollup.
    /// </summary>
    Task WriteUsageAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken);

    /// <summary>
    /// The account's ledger, newest first, lines older than <paramref name="beforeId"/> (all when null): one index range
    /// read, however long the ledger.
    /// </summary>
    Task<IReadOnlyList<LedgerEntry>> ListLedgerAsync(string accountId, LedgerFilter filter, long? beforeId, int limit, CancellationToken cancellationToken);

    /// <summary>The key's spend in the periods that contain <paramref name="now"/>.</summary>
    Task<KeySpend> GetKeySpendAsync(string keyId, DateTimeOffset now, CancellationToken cancellationToken);
}

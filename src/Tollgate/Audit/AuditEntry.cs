namespace Tollgate.Audit;

/// <summary>One thing an owner or admin did, as the admin pages show it.</summary>
internal sealed record AuditEntry
{
    public long Id { get; init; }

    /// <summary>The account that acted; null for the command line.</summary>
    public string? ActorAccountId { get; init; }

    /// <summary>A stable name: <c>credits.grant</c>, <c>account.role</c>, <c>account.disable</c>, <c>key.delete</c>...</summary>
    public required string Action { get; init; }

    public string? TargetAccountId { get; init; }

    /// <summary>What was acted on besides the account: a key id, an invite id.</summary>
    public string? Subject { get; init; }

    /// <summary>A short human sentence: "granted $5.00: welcome", "member → admin".</summary>
    public string? Detail { get; init; }

    public required DateTimeOffset CreatedAt { get; init; }
}

/// <summary>The audit log's storage. SQLite and PostgreSQL implement it.</summary>
internal interface IAuditStore
{
    Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken);

    /// <summary>
    /// Newest first, entries older than <paramref name="beforeId"/> (all when null), optionally about one account and
    /// of one family of actions (<c>credits.</c>).
    /// </summary>
    Task<IReadOnlyList<AuditEntry>> ListAsync(long? beforeId, string? targetAccountId, string? actionPrefix, int limit, CancellationToken cancellationToken);
}

/// <summary>Writes and reads the audit log of admin actions.</summary>
internal sealed class AuditLog(IAuditStore store, TimeProvider time)
{
    public Task RecordAsync(string? actorAccountId, string action, string? targetAccountId, string? subject, string? detail,
        CancellationToken cancellationToken) =>
        store.AppendAsync(new AuditEntry
        {
            ActorAccountId = actorAccountId,
            Action = action,
            TargetAccountId = targetAccountId,
            Subject = subject,
            Detail = detail is { Length: > 500 } ? detail[..500] : detail,
            CreatedAt = time.GetUtcNow(),
        }, cancellationToken);

    public Task<IReadOnlyList<AuditEntry>> ListAsync(long? beforeId, string? targetAccountId, int limit, CancellationToken cancellationToken,
        string? actionPrefix = null) =>
        store.ListAsync(beforeId, targetAccountId, actionPrefix, Math.Clamp(limit, 1, 200), cancellationToken);
}

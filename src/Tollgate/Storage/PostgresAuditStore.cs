using Tollgate.Audit;

namespace Tollgate.Storage;

internal sealed class PostgresAuditStore(PostgresDatabase database) : IAuditStore
{
    public async Task AppendAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO audit_log (actor_account_id, action, target_account_id, subject, detail, created_at)
            VALUES (@actor, @action, @target, @subject, @detail, @at)
            """,
            ("@actor", entry.ActorAccountId), ("@action", entry.Action), ("@target", entry.TargetAccountId),
            ("@subject", entry.Subject), ("@detail", entry.Detail), ("@at", entry.CreatedAt.ToUnixMs()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public async Task<IReadOnlyList<AuditEntry>> ListAsync(long? beforeId, string? targetAccountId, string? actionPrefix, int limit,
        CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT id, actor_account_id, action, target_account_id, subject, detail, created_at FROM audit_log
            WHERE (@before::bigint IS NULL OR id < @before) AND (@target::text IS NULL OR target_account_id = @target)
                AND (@action::text IS NULL OR starts_with(action, @action))
            ORDER BY id DESC LIMIT @limit
            """,
            ("@before", beforeId), ("@target", targetAccountId), ("@action", actionPrefix), ("@limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<AuditEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditEntry
            {
                Id = reader.GetInt64(0),
                ActorAccountId = reader.ReadNullableString(1),
                Action = reader.GetString(2),
                TargetAccountId = reader.ReadNullableString(3),
                Subject = reader.ReadNullableString(4),
                Detail = reader.ReadNullableString(5),
                CreatedAt = reader.ReadTime(6),
            });
        }

        return entries;
    }
}

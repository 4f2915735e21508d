using System.Globalization;
using Tollgate.Credits;
using Tollgate.Usage;

namespace Tollgate.Storage;

/// <summary>
/// Usage reads. A generation is one primary-key lookup in <c>usage_records</c>; everything that sums
/// reads <c>usage_daily</c> through its primary key (account, day, ...), so the cost follows the
/// number of rollup rows in range (days × keys × models), never the number of calls.
/// </summary>
/// <remarks>Each read first waits for the usage records still on their way to the database (<see cref="PendingUsage"/>).</remarks>
internal sealed class SqliteUsageStore(SqliteDatabase database, PendingUsage? pending = null) : IUsageStore
{
    private static readonly DateOnly Epoch = new(1970, 1, 1);

    private Task WaitForPendingAsync(CancellationToken cancellationToken) => pending?.WaitAsync(cancellationToken) ?? Task.CompletedTask;

    public async Task<UsageRecord?> FindGenerationAsync(string accountId, string generationId, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            """
            SELECT generation_id, account_id, key_id, model, provider, upstream_model, prompt_tokens, completion_tokens, cached_tokens,
                   cost_nanos, estimated, streamed, cancelled, finish_reason, native_finish_reason, status, latency_ms, first_token_ms,
                   http_referer, app_title, task_id, created_at
            FROM usage_records WHERE generation_id = @id AND account_id = @account
            """,
            ("@id", generationId), ("@account", accountId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new UsageRecord
        {
            GenerationId = reader.GetString(0),
            AccountId = reader.GetString(1),
            KeyId = reader.GetString(2),
            Model = reader.GetString(3),
            Provider = reader.ReadNullableString(4),
            UpstreamModel = reader.ReadNullableString(5),
            PromptTokens = reader.GetInt32(6),
            CompletionTokens = reader.GetInt32(7),
            CachedTokens = reader.GetInt32(8),
            CostNanos = reader.GetInt64(9),
            Estimated = reader.GetBoolean(10),
            Streamed = reader.GetBoolean(11),
            Cancelled = reader.GetBoolean(12),
            FinishReason = reader.ReadNullableString(13),
            NativeFinishReason = reader.ReadNullableString(14),
            Status = reader.GetInt32(15),
            LatencyMs = reader.GetInt64(16),
            FirstTokenMs = reader.ReadNullableInt64(17),
            HttpReferer = reader.ReadNullableString(18),
            AppTitle = reader.ReadNullableString(19),
            TaskId = reader.ReadNullableString(20),
            CreatedAt = reader.ReadTime(21),
        };
    }

    public async Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The same period rule as IBillingStore.GetKeySpendAsync, which the limit check uses.
        var (day, week, month) = SqliteBillingStore.PeriodStarts(now);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            """
            SELECT key_id,
                   SUM(cost_nanos),
                   COALESCE(SUM(CASE WHEN day >= @day THEN cost_nanos END), 0),
                   COALESCE(SUM(CASE WHEN day >= @week THEN cost_nanos END), 0),
                   COALESCE(SUM(CASE WHEN day >= @month THEN cost_nanos END), 0)
            FROM usage_daily WHERE account_id = @account
            GROUP BY key_id
            """,
            ("@account", accountId), ("@day", day), ("@week", week), ("@month", month));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var spends = new Dictionary<string, KeySpend>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            spends[reader.GetString(0)] = new KeySpend(reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
        }

        return spends;
    }

    public async Task<IReadOnlyList<UsageAggregate>> GetUsageAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        // Constant column names chosen by the enum, never text from the request.
        var (column, order) = query.GroupBy switch
        {
            UsageGrouping.Model => ("model", "SUM(cost_nanos) DESC, model"),
            UsageGrouping.Key => ("key_id", "SUM(cost_nanos) DESC, key_id"),
            _ => ("day", "day"),
        };

        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            $"""
            SELECT {column}, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos)
            FROM usage_daily
            WHERE account_id = @account AND day BETWEEN @from AND @to
              AND (@key IS NULL OR key_id = @key) AND (@model IS NULL OR model = @model)
            GROUP BY {column}
            ORDER BY {order}
            """,
            ("@account", query.AccountId), ("@from", Day(query.From)), ("@to", Day(query.To)), ("@key", query.KeyId), ("@model", query.Model));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageAggregate>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var group = query.GroupBy == UsageGrouping.Day
                ? Epoch.AddDays(reader.GetInt32(0)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)
                : reader.GetString(0);
            rows.Add(new UsageAggregate(group, reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4)));
        }

        return rows;
    }

    /// <summary>Days since 1970-01-01, as <c>usage_daily.day</c> holds them.</summary>
    private static long Day(DateOnly date) => date.DayNumber - Epoch.DayNumber;
}

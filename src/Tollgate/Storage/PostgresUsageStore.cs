using System.Text;
using Npgsql;
using Tollgate.Credits;
using Tollgate.Usage;

namespace Tollgate.Storage;

/// <summary>
/// Usage reads on PostgreSQL, the twin of <see cref="SqliteUsageStore"/>. A generation is one lookup through
/// <c>ix_usage_records_generation</c>, in every monthly partition of <c>usage_records</c> (its creation time is not
/// known). A page of calls is one range scan per partition of an index that ends in the keyset (created_at,
/// generation_id), reading only the page's rows, with the partitions outside the page's dates pruned. Everything
/// that sums reads rollups through their primary keys: <c>usage_daily</c> for UTC days, the 15-minute
/// <c>usage_rollup_*</c> tables for local days and apps, so the cost follows the number of rollup rows in range,
/// never the number of calls.
/// </summary>
/// <remarks>
/// Each read first waits for the usage records still on their way to the database (<see cref="PendingUsage"/>).
/// Ties between names are ordered with <c>COLLATE "C"</c>, byte order as SQLite's BINARY, whatever the database's
/// locale. SUM over bigint is numeric in PostgreSQL: every sum is cast back to bigint.
/// </remarks>
internal sealed class PostgresUsageStore(PostgresDatabase database, PendingUsage? pending = null) : IUsageStore
{
    private static readonly DateOnly Epoch = new(1970, 1, 1);

    private Task WaitForPendingAsync(CancellationToken cancellationToken) => pending?.WaitAsync(cancellationToken) ?? Task.CompletedTask;

    public async Task<UsageRecord?> FindGenerationAsync(string accountId, string generationId, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"SELECT {RecordColumns} FROM usage_records r WHERE r.generation_id = @id AND r.account_id = @account",
            ("@id", generationId), ("@account", accountId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRecord(reader) : null;
    }

    public async Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        // The same period rule as IBillingStore.GetKeySpendAsync, which the limit check uses.
        var (day, week, month) = SqliteBillingStore.PeriodStarts(now);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"{KeySpendColumns} FROM usage_daily WHERE account_id = @account GROUP BY key_id",
            ("@account", accountId), ("@day", day), ("@week", week), ("@month", month));
        return await ReadKeySpendsAsync(command, cancellationToken);
    }

    public async Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, IReadOnlyCollection<string> keyIds, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        if (keyIds.Count == 0)
        {
            return new Dictionary<string, KeySpend>(StringComparer.Ordinal);
        }

        var (day, week, month) = SqliteBillingStore.PeriodStarts(now);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"{KeySpendColumns} FROM usage_daily WHERE key_id = ANY(@keys) AND account_id = @account GROUP BY key_id",
            ("@account", accountId), ("@day", day), ("@week", week), ("@month", month), ("@keys", keyIds.ToArray()));
        return await ReadKeySpendsAsync(command, cancellationToken);
    }

    /// <summary>A key's spend in all, today, this week and this month, of the <c>usage_daily</c> rows that follow.</summary>
    private const string KeySpendColumns =
        """
        SELECT key_id,
               SUM(cost_nanos)::bigint,
               COALESCE(SUM(CASE WHEN day >= @day THEN cost_nanos END), 0)::bigint,
               COALESCE(SUM(CASE WHEN day >= @week THEN cost_nanos END), 0)::bigint,
               COALESCE(SUM(CASE WHEN day >= @month THEN cost_nanos END), 0)::bigint
        """;

    private static async Task<IReadOnlyDictionary<string, KeySpend>> ReadKeySpendsAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
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
        if (query.GroupBy == UsageGrouping.App)
        {
            return await GetUsageByAppAsync(query, cancellationToken);
        }

        await WaitForPendingAsync(cancellationToken);
        // Constant column names chosen by the enum, never text from the request.
        var (column, order) = query.GroupBy switch
        {
            UsageGrouping.Model => ("model", "SUM(cost_nanos) DESC, model COLLATE \"C\""),
            UsageGrouping.Key => ("key_id", "SUM(cost_nanos) DESC, key_id COLLATE \"C\""),
            _ => ("day", "day"),
        };

        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT {column}, {TotalsColumns}
            FROM usage_daily
            WHERE account_id = @account AND day BETWEEN @from AND @to
              AND (@key::text IS NULL OR key_id = @key) AND (@model::text IS NULL OR model = @model)
            GROUP BY {column}
            ORDER BY {order}
            """,
            ("@account", query.AccountId), ("@from", Day(query.From)), ("@to", Day(query.To)), ("@key", query.KeyId), ("@model", query.Model));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageAggregate>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var group = query.GroupBy == UsageGrouping.Day
                ? Epoch.AddDays(checked((int)reader.GetInt64(0))).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)
                : reader.GetString(0);
            rows.Add(ReadAggregate(group, reader));
        }

        return rows;
    }

    /// <summary>Apps are not in <c>usage_daily</c>: their UTC days are whole ranges of the 15-minute app rollup (96 buckets a day).</summary>
    private async Task<IReadOnlyList<UsageAggregate>> GetUsageByAppAsync(UsageQuery query, CancellationToken cancellationToken)
    {
        if (query.KeyId is not null || query.Model is not null)
        {
            throw new ArgumentException("The app rollup has no key or model: usage by app cannot be filtered by them", nameof(query));
        }

        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT app, {TotalsColumns}
            FROM usage_rollup_app
            WHERE account_id = @account AND bucket >= @from AND bucket < @to
            GROUP BY app
            ORDER BY SUM(cost_nanos) DESC, SUM(requests) DESC, app COLLATE "C"
            LIMIT @limit
            """,
            ("@account", query.AccountId), ("@from", Day(query.From) * BucketsPerUtcDay), ("@to", (Day(query.To) + 1) * BucketsPerUtcDay),
            ("@limit", UsageQuery.MaxAppRows));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageAggregate>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(ReadAggregate(reader.GetString(0), reader));
        }

        return rows;
    }

    /// <summary>The sums of a rollup's counters, in the order <see cref="ReadAggregate"/> and <see cref="ReadTotals"/> read them.</summary>
    private const string TotalsColumns =
        "SUM(requests)::bigint, SUM(prompt_tokens)::bigint, SUM(completion_tokens)::bigint, SUM(cost_nanos)::bigint, SUM(unpriced_requests)::bigint";

    private static UsageAggregate ReadAggregate(string group, NpgsqlDataReader reader) =>
        new(group, reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5));

    public async Task<UsageCallPage> GetCallsAsync(UsageCallQuery query, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);

        // Only the conditions that apply are in the text, so that the planner picks the index of the filter and prunes
        // the partitions outside the dates (a condition like "@key IS NULL OR key_id = @key" would hide both). Every
        // fragment is a constant; values are parameters.
        var where = new StringBuilder("r.account_id = @account");
        await using var command = connection.Command("", ("@account", query.AccountId), ("@limit", query.Limit + 1));
        void Filter(string condition, params (string Name, object Value)[] values)
        {
            where.Append(" AND ").Append(condition);
            foreach (var (name, value) in values)
            {
                command.Parameters.AddWithValue(name.TrimStart('@'), value);
            }
        }

        if (query.KeyId is { } key)
        {
            Filter("r.key_id = @key", ("@key", key));
        }

        if (query.Model is { } model)
        {
            Filter("r.model = @model", ("@model", model));
        }

        if (query.App is { } app)
        {
            Filter("r.app_title = @app", ("@app", app));
        }

        if (query.From is { } from)
        {
            Filter("r.created_at >= @from", ("@from", from.ToUnixMs()));
        }

        if (query.To is { } to)
        {
            Filter("r.created_at < @to", ("@to", to.ToUnixMs()));
        }

        if (query.After is { } after)
        {
            // The bound on created_at alone is implied by the row comparison; spelled out, it prunes the newer partitions.
            Filter("r.created_at <= @afterAt AND (r.created_at, r.generation_id) < (@afterAt, @afterId)",
                ("@afterAt", after.CreatedAtMs), ("@afterId", after.GenerationId));
        }

        // No COLLATE on generation_id: the order must be the index's, or the page would be a sort of every matching row.
        // The keyset comparison above uses the same collation, so pages follow each other whatever it is.
        command.CommandText =
            $"""
            SELECT {RecordColumns}, k.name
            FROM usage_records r LEFT JOIN api_keys k ON k.id = r.key_id
            WHERE {where}
            ORDER BY r.created_at DESC, r.generation_id DESC
            LIMIT @limit
            """;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var calls = new List<UsageCall>(Math.Min(query.Limit, 256));
        var more = false;
        while (await reader.ReadAsync(cancellationToken))
        {
            if (calls.Count == query.Limit)
            {
                more = true;
                break;
            }

            calls.Add(new UsageCall(ReadRecord(reader), reader.ReadNullableString(RecordColumnCount)));
        }

        var next = more ? new UsageCallPosition(calls[^1].Record.CreatedAt.ToUnixMs(), calls[^1].Record.GenerationId) : (UsageCallPosition?)null;
        return new UsageCallPage(calls, next);
    }

    public async Task<IReadOnlyList<UsageSeriesRow>> GetSeriesRowsAsync(string accountId, UsageSeriesGrouping groupBy, IReadOnlyList<long> dayStarts,
        CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(dayStarts.Count, 2, nameof(dayStarts));
        var (table, column) = Rollup(groupBy);
        var keys = groupBy == UsageSeriesGrouping.Key;

        // One index range scan of the rollup over all the days; width_bucket finds each bucket's day among the
        // ascending day starts (day i is from starts[i] up to starts[i + 1]; it numbers them from 1).
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            SELECT totals.day, totals.grp, {(keys ? "k.name" : "NULL")},
                   totals.requests, totals.prompt, totals.completion, totals.cost, totals.unpriced
            FROM (SELECT width_bucket(r.bucket, @starts) - 1 AS day, r.{column} AS grp, SUM(r.requests)::bigint AS requests,
                         SUM(r.prompt_tokens)::bigint AS prompt, SUM(r.completion_tokens)::bigint AS completion,
                         SUM(r.cost_nanos)::bigint AS cost, SUM(r.unpriced_requests)::bigint AS unpriced
                  FROM {table} r
                  WHERE r.account_id = @account AND r.bucket >= @low AND r.bucket < @high
                  GROUP BY 1, 2) totals
            {(keys ? "LEFT JOIN api_keys k ON k.id = totals.grp AND k.account_id = @account" : "")}
            """,
            ("@account", accountId), ("@starts", dayStarts.ToArray()), ("@low", dayStarts[0]), ("@high", dayStarts[^1]));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageSeriesRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new UsageSeriesRow(reader.GetInt32(0), reader.GetString(1), reader.ReadNullableString(2), ReadTotals(reader, 3)));
        }

        return rows;
    }

    public async Task<UsageFilterChoices> GetFilterChoicesAsync(string accountId, long fromBucket, long toBucket, int maxEach,
        CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);

        async Task<IReadOnlyList<UsageChoice>> ReadAsync(UsageSeriesGrouping groupBy)
        {
            var (table, column) = Rollup(groupBy);
            await using var command = connection.Command(
                $"""
                SELECT c.grp, {(groupBy == UsageSeriesGrouping.Key ? "k.name" : "NULL")}, c.requests
                FROM (SELECT {column} AS grp, SUM(requests)::bigint AS requests FROM {table}
                      WHERE account_id = @account AND bucket >= @from AND bucket < @to {(groupBy == UsageSeriesGrouping.App ? "AND app <> ''" : "")}
                      GROUP BY {column} ORDER BY SUM(requests) DESC, {column} COLLATE "C" LIMIT @max) c
                {(groupBy == UsageSeriesGrouping.Key ? "LEFT JOIN api_keys k ON k.id = c.grp AND k.account_id = @account" : "")}
                ORDER BY c.requests DESC, c.grp COLLATE "C"
                """,
                ("@account", accountId), ("@from", fromBucket), ("@to", toBucket), ("@max", maxEach));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            var choices = new List<UsageChoice>();
            while (await reader.ReadAsync(cancellationToken))
            {
                var value = reader.GetString(0);
                choices.Add(new UsageChoice(value, reader.ReadNullableString(1) ?? value, reader.GetInt64(2)));
            }

            return choices;
        }

        return new UsageFilterChoices(
            await ReadAsync(UsageSeriesGrouping.Model), await ReadAsync(UsageSeriesGrouping.Key), await ReadAsync(UsageSeriesGrouping.App));
    }

    public async Task<DateTimeOffset?> GetNewestCallAsync(string accountId, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT MAX(created_at) FROM usage_records WHERE account_id = @account", ("@account", accountId));
        return await command.ExecuteScalarAsync(cancellationToken) is long newest ? DateTimeOffset.FromUnixTimeMilliseconds(newest) : null;
    }

    /// <summary>The rollup table of a grouping and its group column: constants, never text from a request.</summary>
    private static (string Table, string Column) Rollup(UsageSeriesGrouping groupBy) => groupBy switch
    {
        UsageSeriesGrouping.Model => ("usage_rollup_model", "model"),
        UsageSeriesGrouping.Key => ("usage_rollup_key", "key_id"),
        UsageSeriesGrouping.App => ("usage_rollup_app", "app"),
        _ => throw new ArgumentOutOfRangeException(nameof(groupBy)),
    };

    private static UsageTotals ReadTotals(NpgsqlDataReader reader, int first) => new(
        reader.GetInt64(first), reader.GetInt64(first + 1), reader.GetInt64(first + 2), reader.GetInt64(first + 3), reader.GetInt64(first + 4));

    /// <summary>The columns <see cref="ReadRecord"/> reads, of <c>usage_records r</c>.</summary>
    private const string RecordColumns =
        """
        r.generation_id, r.account_id, r.key_id, r.model, r.provider, r.upstream_model, r.prompt_tokens, r.completion_tokens, r.cached_tokens,
        r.cost_nanos, r.estimated, r.streamed, r.cancelled, r.finish_reason, r.native_finish_reason, r.status, r.latency_ms, r.first_token_ms,
        r.http_referer, r.app_title, r.task_id, r.created_at, r.unpriced, r.reasoning_tokens
        """;

    private const int RecordColumnCount = 24;

    private static UsageRecord ReadRecord(NpgsqlDataReader reader) => new()
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
        Unpriced = reader.GetBoolean(22),
        ReasoningTokens = reader.GetInt32(23),
    };

    private const long BucketsPerUtcDay = 24 * 60 * 60 * 1000 / UsageBuckets.SizeMs;

    /// <summary>Days since 1970-01-01, as <c>usage_daily.day</c> holds them.</summary>
    private static long Day(DateOnly date) => date.DayNumber - Epoch.DayNumber;
}

using System.Globalization;
using System.Text;
using Microsoft.Data.Sqlite;
using Tollgate.Credits;
using Tollgate.Usage;

namespace Tollgate.Storage;

/// <summary>
/// Usage reads. A generation is one primary-key lookup in <c>usage_records</c>; a page of calls is one range scan
/// of an index that ends in the keyset (created_at, generation_id), reading only the page's rows. Everything that
/// sums reads rollups through their primary keys (account, day or bucket, ...): <c>usage_daily</c> for UTC days,
/// the 15-minute <c>usage_rollup_*</c> tables for local days and apps, so the cost follows the number of rollup rows
/// in range, never the number of calls.
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

    public async Task<IReadOnlyDictionary<string, KeySpend>> GetKeySpendsAsync(string accountId, IReadOnlyCollection<string> keyIds, DateTimeOffset now,
        CancellationToken cancellationToken)
    {
        var spends = new Dictionary<string, KeySpend>(StringComparer.Ordinal);
        if (keyIds.Count == 0)
        {
            return spends;
        }

        var (day, week, month) = SqliteBillingStore.PeriodStarts(now);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        var names = keyIds.Select((_, i) => "@k" + i.ToString(CultureInfo.InvariantCulture)).ToArray();
        using var command = connection.Command(
            $"""
            SELECT key_id,
                   SUM(cost_nanos),
                   COALESCE(SUM(CASE WHEN day >= @day THEN cost_nanos END), 0),
                   COALESCE(SUM(CASE WHEN day >= @week THEN cost_nanos END), 0),
                   COALESCE(SUM(CASE WHEN day >= @month THEN cost_nanos END), 0)
            FROM usage_daily WHERE key_id IN ({string.Join(", ", names)}) AND account_id = @account
            GROUP BY key_id
            """,
            [("@account", accountId), ("@day", day), ("@week", week), ("@month", month), .. keyIds.Select((id, i) => (names[i], (object?)id))]);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
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
            UsageGrouping.Model => ("model", "SUM(cost_nanos) DESC, model"),
            UsageGrouping.Key => ("key_id", "SUM(cost_nanos) DESC, key_id"),
            _ => ("day", "day"),
        };

        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            $"""
            SELECT {column}, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos), SUM(unpriced_requests)
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
            rows.Add(new UsageAggregate(group, reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
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
        using var command = connection.Command(
            """
            SELECT app, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos), SUM(unpriced_requests)
            FROM usage_rollup_app
            WHERE account_id = @account AND bucket >= @from AND bucket < @to
            GROUP BY app
            ORDER BY SUM(cost_nanos) DESC, SUM(requests) DESC, app
            LIMIT @limit
            """,
            ("@account", query.AccountId), ("@from", Day(query.From) * BucketsPerUtcDay), ("@to", (Day(query.To) + 1) * BucketsPerUtcDay),
            ("@limit", UsageQuery.MaxAppRows));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<UsageAggregate>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(new UsageAggregate(reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5)));
        }

        return rows;
    }

    public async Task<UsageCallPage> GetCallsAsync(UsageCallQuery query, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);

        // Only the conditions that apply are in the text, so that SQLite picks the index of the filter (a condition
        // like "@key IS NULL OR key_id = @key" would hide it). Every fragment is a constant; values are parameters.
        var where = new StringBuilder("r.account_id = @account");
        using var command = connection.Command("", ("@account", query.AccountId), ("@limit", query.Limit + 1));
        void Filter(string condition, params (string Name, object Value)[] values)
        {
            where.Append(" AND ").Append(condition);
            foreach (var (name, value) in values)
            {
                command.Parameters.AddWithValue(name, value);
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
            Filter("(r.created_at, r.generation_id) < (@afterAt, @afterId)", ("@afterAt", after.CreatedAtMs), ("@afterId", after.GenerationId));
        }

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

        // The days as a table of bucket ranges, one index range scan of the rollup per day. They are integers this
        // method was given (computed from the zone), written into the text invariantly: no text from a request.
        var days = new StringBuilder();
        for (var i = 0; i + 1 < dayStarts.Count; i++)
        {
            days.Append(i == 0 ? "" : ", ").Append(CultureInfo.InvariantCulture, $"({i}, {dayStarts[i]}, {dayStarts[i + 1]})");
        }

        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            $"""
            WITH days (day, low, high) AS (VALUES {days}),
            totals AS (
                SELECT days.day AS day, r.{column} AS grp, SUM(r.requests) AS requests, SUM(r.prompt_tokens) AS prompt,
                       SUM(r.completion_tokens) AS completion, SUM(r.cost_nanos) AS cost, SUM(r.unpriced_requests) AS unpriced
                FROM days CROSS JOIN {table} r
                WHERE r.account_id = @account AND r.bucket >= days.low AND r.bucket < days.high
                GROUP BY days.day, r.{column})
            SELECT totals.day, totals.grp, {(groupBy == UsageSeriesGrouping.Key ? "k.name" : "NULL")},
                   totals.requests, totals.prompt, totals.completion, totals.cost, totals.unpriced
            FROM totals {(groupBy == UsageSeriesGrouping.Key ? "LEFT JOIN api_keys k ON k.id = totals.grp AND k.account_id = @account" : "")}
            """,
            ("@account", accountId));
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
            using var command = connection.Command(
                $"""
                SELECT c.grp, {(groupBy == UsageSeriesGrouping.Key ? "k.name" : "NULL")}, c.requests
                FROM (SELECT {column} AS grp, SUM(requests) AS requests FROM {table}
                      WHERE account_id = @account AND bucket >= @from AND bucket < @to {(groupBy == UsageSeriesGrouping.App ? "AND app <> ''" : "")}
                      GROUP BY {column} ORDER BY SUM(requests) DESC, {column} LIMIT @max) c
                {(groupBy == UsageSeriesGrouping.Key ? "LEFT JOIN api_keys k ON k.id = c.grp AND k.account_id = @account" : "")}
                ORDER BY c.requests DESC, c.grp
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
        using var command = connection.Command("SELECT MAX(created_at) FROM usage_records WHERE account_id = @account", ("@account", accountId));
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

    private static UsageTotals ReadTotals(SqliteDataReader reader, int first) => new(
        reader.GetInt64(first), reader.GetInt64(first + 1), reader.GetInt64(first + 2), reader.GetInt64(first + 3), reader.GetInt64(first + 4));

    /// <summary>The columns <see cref="ReadRecord"/> reads, of <c>usage_records r</c>.</summary>
    private const string RecordColumns =
        """
        r.generation_id, r.account_id, r.key_id, r.model, r.provider, r.upstream_model, r.prompt_tokens, r.completion_tokens, r.cached_tokens,
        r.cost_nanos, r.estimated, r.streamed, r.cancelled, r.finish_reason, r.native_finish_reason, r.status, r.latency_ms, r.first_token_ms,
        r.http_referer, r.app_title, r.task_id, r.created_at, r.unpriced, r.reasoning_tokens
        """;

    private const int RecordColumnCount = 24;

    private static UsageRecord ReadRecord(SqliteDataReader reader) => new()
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

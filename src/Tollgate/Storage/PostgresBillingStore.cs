using Npgsql;
using NpgsqlTypes;
using Tollgate.Credits;
using Tollgate.Http;
using Tollgate.Usage;

namespace Tollgate.Storage;

/// <summary>
/// Credits and usage on PostgreSQL, shared by every instance of a cluster. Money is decided here only: a request is
/// admitted by a hold (<see cref="HoldAsync"/>, one statement in a fixed lock order, with a CHECK that the balance
/// covers what is held), and a batch of usage records is one transaction (a group commit) that writes the records,
/// frees their holds, charges them once by generation id and adds the rollups.
/// </summary>
/// <remarks>
/// A batch locks rows in one order: the holds, then key spend rows by key id, then balance rows by account id, then
/// rollup rows, as admission does (key, then account). A deadlock or serialization failure that still happens (two
/// instances' rollup rows) is retried: the whole batch is one transaction, and a record already written is skipped.
/// </remarks>
internal sealed class PostgresBillingStore(PostgresDatabase database, PendingUsage? pending = null) : IBillingStore, ICreditHolds
{
    private const int Attempts = 5;
    private static readonly string[] RollupCounters = ["requests", "prompt_tokens", "completion_tokens", "cost_nanos", "unpriced_requests"];

    private Task WaitForPendingAsync(CancellationToken cancellationToken) => pending?.WaitAsync(cancellationToken) ?? Task.CompletedTask;

    public async Task<AccountCredits> GetCreditsAsync(string accountId, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ReadCreditsAsync(connection, accountId, cancellationToken);
    }

    public async Task<long> GetNewestOutsideEntryAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            "SELECT COALESCE(MAX(id), 0) FROM ledger WHERE account_id = @account AND kind <> 'charge'", ("@account", accountId));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<AccountCredits> AddCreditsAsync(string accountId, string kind, long amountNanos, string actor, string? reference,
        string? note, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await using (var insert = connection.Command(
            """
            INSERT INTO ledger (account_id, kind, amount_nanos, reference, actor, note, created_at)
            VALUES (@account, @kind, @amount, @reference::text, @actor, @note::text, @at)
            """,
            ("@account", accountId), ("@kind", kind), ("@amount", amountNanos), ("@reference", reference),
            ("@actor", actor), ("@note", note), ("@at", at.ToUnixTimeMilliseconds())))
        {
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        try
        {
            await using var balance = connection.Command(
                """
                INSERT INTO balances (account_id, balance_nanos, credits_nanos, usage_nanos, updated_at)
                VALUES (@account, @amount, @amount, 0, @at)
                ON CONFLICT (account_id) DO UPDATE SET balance_nanos = balances.balance_nanos + @amount,
                    credits_nanos = balances.credits_nanos + @amount, updated_at = @at
                """,
                ("@account", accountId), ("@amount", amountNanos), ("@at", at.ToUnixTimeMilliseconds()));
            await balance.ExecuteNonQueryAsync(cancellationToken);
        }
        catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.CheckViolation)
        {
            throw ApiException.BadRequest(
                "The adjustment would take the balance below what calls in flight hold; try again when they have finished", "amount");
        }

        var credits = await ReadCreditsAsync(connection, accountId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return credits;
    }

    public async Task WriteUsageAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await WriteBatchAsync(records, cancellationToken);
                return;
            }
            catch (PostgresException exception) when (exception.IsTransient() && attempt < Attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(5 * attempt * attempt), cancellationToken);
            }
        }
    }

    private async Task WriteBatchAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);

        // 1. The records; a generation written before (a retried batch) is skipped whole: nothing of it counts twice.
        var fresh = await InsertRecordsAsync(connection, records, cancellationToken);
        if (fresh.Count == 0)
        {
            await transaction.CommitAsync(cancellationToken);
            return;
        }

        // 2. Their holds, freed. A hold already gone was settled by the sweeper (its instance looked dead) at its full amount:
        // that generation is not charged again. Read in a statement of its own, after the deletes waited for the sweeper.
        var freed = await DeleteHoldsAsync(connection, fresh, cancellationToken);
        var missing = fresh.Where(r => r.HoldId is { } id && !freed.ContainsKey(id)).Select(r => r.HoldId!).ToArray();
        var sweptAlready = missing.Length == 0 ? [] : await ExpiredAsync(connection, missing, cancellationToken);

        // 3. Charges, key spend, balances, rollups: summed per row first, each row written once, keys before accounts.
        var charges = new List<UsageRecord>();
        // Per key and the periods of the record's own time (a record counts in the day, week and month it was made).
        var keys = new SortedDictionary<(string Key, long Day, long Week, long Month), (long Freed, long Charged)>();
        var accounts = new SortedDictionary<string, (long Freed, long Charged)>(StringComparer.Ordinal);
        var daily = new Dictionary<(string Account, long Day, string Key, string Model), SqliteBillingStore.RollupSums>();
        var byModel = new Dictionary<(string Account, long Bucket, string Group), SqliteBillingStore.RollupSums>();
        var byKey = new Dictionary<(string Account, long Bucket, string Group), SqliteBillingStore.RollupSums>();
        var byApp = new Dictionary<(string Account, long Bucket, string Group), SqliteBillingStore.RollupSums>();
        foreach (var r in fresh)
        {
            var held = r.HoldId is { } hold && freed.TryGetValue(hold, out var amount) ? amount : 0;
            var charged = r.CostNanos > 0 && !(r.HoldId is { } swept && sweptAlready.Contains(swept)) ? r.CostNanos : 0;
            if (charged > 0)
            {
                charges.Add(r);
            }

            if (held > 0 || charged > 0)
            {
                var (d, w, m) = SqliteBillingStore.PeriodStarts(r.CreatedAt);
                keys[(r.KeyId, d, w, m)] = keys.GetValueOrDefault((r.KeyId, d, w, m)) is var k ? (k.Freed + held, k.Charged + charged) : default;
                accounts[r.AccountId] = accounts.GetValueOrDefault(r.AccountId) is var a ? (a.Freed + held, a.Charged + charged) : default;
            }

            var bucket = UsageBuckets.Of(r.CreatedAt);
            SqliteBillingStore.RollupSums.Add(daily, (r.AccountId, SqliteBillingStore.Day(r.CreatedAt), r.KeyId, r.Model), r);
            SqliteBillingStore.RollupSums.Add(byModel, (r.AccountId, bucket, r.Model), r);
            SqliteBillingStore.RollupSums.Add(byKey, (r.AccountId, bucket, r.KeyId), r);
            SqliteBillingStore.RollupSums.Add(byApp, (r.AccountId, bucket, r.AppTitle ?? ""), r);
        }

        var now = fresh.Max(r => r.CreatedAt);
        await using var batch = new NpgsqlBatch(connection, transaction);
        if (charges.Count > 0)
        {
            batch.BatchCommands.Add(Batch(
                """
                INSERT INTO ledger (account_id, kind, amount_nanos, reference, key_id, actor, created_at)
                SELECT a, 'charge', -c, g, k, 'gateway', t FROM unnest(@accounts, @costs, @ids, @keys, @ats) AS x (a, c, g, k, t)
                """,
                ("accounts", charges.Select(r => r.AccountId).ToArray()), ("costs", charges.Select(r => r.CostNanos).ToArray()),
                ("ids", charges.Select(r => r.GenerationId).ToArray()), ("keys", charges.Select(r => r.KeyId).ToArray()),
                ("ats", charges.Select(r => r.CreatedAt.ToUnixTimeMilliseconds()).ToArray())));
        }

        foreach (var ((key, day, week, month), (held, charged)) in keys)
        {
            // A period older than the row's adds to the total only; a newer one starts the counter again.
            batch.BatchCommands.Add(Batch(
                """
                INSERT INTO key_spend AS s (key_id, total_nanos, day_period, day_nanos, week_period, week_nanos, month_period, month_nanos)
                VALUES (@key, @charged, @day, @charged, @week, @charged, @month, @charged)
                ON CONFLICT (key_id) DO UPDATE SET
                    held_nanos = GREATEST(s.held_nanos - @held, 0),
                    total_nanos = s.total_nanos + @charged,
                    day_nanos = CASE WHEN s.day_period = @day THEN s.day_nanos + @charged WHEN s.day_period < @day THEN @charged ELSE s.day_nanos END,
                    day_period = GREATEST(s.day_period, @day),
                    week_nanos = CASE WHEN s.week_period = @week THEN s.week_nanos + @charged WHEN s.week_period < @week THEN @charged ELSE s.week_nanos END,
                    week_period = GREATEST(s.week_period, @week),
                    month_nanos = CASE WHEN s.month_period = @month THEN s.month_nanos + @charged WHEN s.month_period < @month THEN @charged ELSE s.month_nanos END,
                    month_period = GREATEST(s.month_period, @month)
                """,
                ("key", key), ("held", held), ("charged", charged), ("day", day), ("week", week), ("month", month)));
        }

        foreach (var (account, (held, charged)) in accounts)
        {
            batch.BatchCommands.Add(Batch(
                """
                INSERT INTO balances AS b (account_id, balance_nanos, credits_nanos, usage_nanos, updated_at)
                VALUES (@account, -@charged, 0, @charged, @at)
                ON CONFLICT (account_id) DO UPDATE SET balance_nanos = b.balance_nanos - @charged, usage_nanos = b.usage_nanos + @charged,
                    held_nanos = GREATEST(b.held_nanos - @held, 0), updated_at = @at
                """,
                ("account", account), ("held", held), ("charged", charged), ("at", now.ToUnixTimeMilliseconds())));
        }

        batch.BatchCommands.Add(RollupBatch("usage_daily", "day", "key_id, model", daily.OrderBy(d => d.Key).Select(d =>
            (d.Key.Account, d.Key.Day, (string[])[d.Key.Key, d.Key.Model], d.Value))));
        batch.BatchCommands.Add(RollupBatch("usage_rollup_model", "bucket", "model", Rows(byModel)));
        batch.BatchCommands.Add(RollupBatch("usage_rollup_key", "bucket", "key_id", Rows(byKey)));
        batch.BatchCommands.Add(RollupBatch("usage_rollup_app", "bucket", "app", Rows(byApp)));
        await batch.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);

        static IEnumerable<(string, long, string[], SqliteBillingStore.RollupSums)> Rows(
            Dictionary<(string Account, long Bucket, string Group), SqliteBillingStore.RollupSums> sums) =>
            sums.OrderBy(s => s.Key).Select(s => (s.Key.Account, s.Key.Bucket, (string[])[s.Key.Group], s.Value));
    }

    private static async Task<List<UsageRecord>> InsertRecordsAsync(NpgsqlConnection connection, IReadOnlyList<UsageRecord> records,
        CancellationToken cancellationToken)
    {
        // One statement for the whole batch (unnest of column arrays); RETURNING names the generations that were new.
        await using var insert = connection.Command(
            """
            INSERT INTO usage_records (generation_id, account_id, key_id, model, provider, upstream_model, prompt_tokens, completion_tokens,
                cached_tokens, reasoning_tokens, cost_nanos, unpriced, estimated, streamed, cancelled, finish_reason, native_finish_reason, status,
                latency_ms, first_token_ms, http_referer, app_title, task_id, created_at)
            SELECT * FROM unnest(@ids, @accounts, @keys, @models, @providers, @upstreams, @prompts, @completions, @cached, @reasoning, @costs,
                @unpriced, @estimated, @streamed, @cancelled, @finishes, @natives, @statuses, @latencies, @ttfts, @referers, @titles, @tasks, @ats)
            ON CONFLICT DO NOTHING
            RETURNING generation_id, created_at
            """);
        Array("ids", records.Select(r => r.GenerationId));
        Array("accounts", records.Select(r => r.AccountId));
        Array("keys", records.Select(r => r.KeyId));
        Array("models", records.Select(r => r.Model));
        Array("providers", records.Select(r => r.Provider));
        Array("upstreams", records.Select(r => r.UpstreamModel));
        Array("prompts", records.Select(r => r.PromptTokens));
        Array("completions", records.Select(r => r.CompletionTokens));
        Array("cached", records.Select(r => r.CachedTokens));
        Array("reasoning", records.Select(r => r.ReasoningTokens));
        Array("costs", records.Select(r => r.CostNanos));
        Array("unpriced", records.Select(r => r.Unpriced));
        Array("estimated", records.Select(r => r.Estimated));
        Array("streamed", records.Select(r => r.Streamed));
        Array("cancelled", records.Select(r => r.Cancelled));
        Array("finishes", records.Select(r => r.FinishReason));
        Array("natives", records.Select(r => r.NativeFinishReason));
        Array("statuses", records.Select(r => r.Status));
        Array("latencies", records.Select(r => r.LatencyMs));
        Array("ttfts", records.Select(r => r.FirstTokenMs));
        Array("referers", records.Select(r => r.HttpReferer));
        Array("titles", records.Select(r => r.AppTitle));
        Array("tasks", records.Select(r => r.TaskId));
        Array("ats", records.Select(r => r.CreatedAt.ToUnixTimeMilliseconds()));

        var written = new HashSet<(string, long)>();
        await using (var reader = await insert.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                written.Add((reader.GetString(0), reader.GetInt64(1)));
            }
        }

        return records.Where(r => written.Remove((r.GenerationId, r.CreatedAt.ToUnixTimeMilliseconds()))).ToList();

        void Array<T>(string name, IEnumerable<T> values) => insert.Parameters.Add(new NpgsqlParameter<T[]>(name, values.ToArray()));
    }

    private static async Task<Dictionary<string, long>> DeleteHoldsAsync(NpgsqlConnection connection, List<UsageRecord> records,
        CancellationToken cancellationToken)
    {
        var ids = records.Where(r => r.HoldId is not null).Select(r => r.HoldId!).Order(StringComparer.Ordinal).ToArray();
        var freed = new Dictionary<string, long>(StringComparer.Ordinal);
        if (ids.Length == 0)
        {
            return freed;
        }

        await using var delete = connection.Command("DELETE FROM credit_holds WHERE id = ANY (@ids) RETURNING id, amount_nanos", ("ids", ids));
        await using var reader = await delete.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            freed[reader.GetString(0)] = reader.GetInt64(1);
        }

        return freed;
    }

    private static async Task<HashSet<string>> ExpiredAsync(NpgsqlConnection connection, string[] holdIds, CancellationToken cancellationToken)
    {
        await using var select = connection.Command("SELECT id FROM expired_holds WHERE id = ANY (@ids)", ("ids", holdIds));
        await using var reader = await select.ExecuteReaderAsync(cancellationToken);
        var swept = new HashSet<string>(StringComparer.Ordinal);
        while (await reader.ReadAsync(cancellationToken))
        {
            swept.Add(reader.GetString(0));
        }

        return swept;
    }

    private static NpgsqlBatchCommand Batch(string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlBatchCommand(sql);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }

    /// <summary>One multi-row upsert into a rollup: <paramref name="groupColumns"/> (one or two text columns) after the account and period.</summary>
    private static NpgsqlBatchCommand RollupBatch(string table, string periodColumn, string groupColumns,
        IEnumerable<(string Account, long Period, string[] Groups, SqliteBillingStore.RollupSums Sums)> rows)
    {
        var list = rows.ToList();
        var groups = groupColumns.Split(", ");
        var groupArrays = string.Join(", ", groups.Select((_, i) => $"@g{i}"));
        var groupNames = string.Join(", ", groups.Select((_, i) => $"g{i}"));
        var updates = string.Join(", ", RollupCounters.Select(c => $"{c} = {table}.{c} + excluded.{c}"));
        var command = new NpgsqlBatchCommand(
            $"""
            INSERT INTO {table} (account_id, {periodColumn}, {groupColumns}, requests, prompt_tokens, completion_tokens, cost_nanos, unpriced_requests)
            SELECT a, p, {groupNames}, r, pt, ct, c, u FROM unnest(@a, @p, {groupArrays}, @r, @pt, @ct, @c, @u) AS x (a, p, {groupNames}, r, pt, ct, c, u)
            ON CONFLICT (account_id, {periodColumn}, {groupColumns}) DO UPDATE SET {updates}
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]>("a", list.Select(r => r.Account).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<long[]>("p", list.Select(r => r.Period).ToArray()));
        for (var i = 0; i < groups.Length; i++)
        {
            var index = i;
            command.Parameters.Add(new NpgsqlParameter<string[]>($"g{i}", list.Select(r => r.Groups[index]).ToArray()));
        }

        command.Parameters.Add(new NpgsqlParameter<long[]>("r", list.Select(r => r.Sums.Requests).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<long[]>("pt", list.Select(r => r.Sums.Prompt).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<long[]>("ct", list.Select(r => r.Sums.Completion).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<long[]>("c", list.Select(r => r.Sums.Cost).ToArray()));
        command.Parameters.Add(new NpgsqlParameter<long[]>("u", list.Select(r => r.Sums.Unpriced).ToArray()));
        return command;
    }

    public async Task<KeySpend> GetKeySpendAsync(string keyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (day, week, month) = SqliteBillingStore.PeriodStarts(now);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT total_nanos,
                   CASE WHEN day_period = @day THEN day_nanos ELSE 0 END,
                   CASE WHEN week_period = @week THEN week_nanos ELSE 0 END,
                   CASE WHEN month_period = @month THEN month_nanos ELSE 0 END
            FROM key_spend WHERE key_id = @key
            """,
            ("@key", keyId), ("@day", day), ("@week", week), ("@month", month));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new KeySpend(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : KeySpend.None;
    }

    public async Task<IReadOnlyList<LedgerEntry>> ListLedgerAsync(string accountId, LedgerFilter filter, long? beforeId, int limit,
        CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        var kind = filter switch
        {
            LedgerFilter.Charges => "AND kind = 'charge'",
            LedgerFilter.Credits => "AND kind <> 'charge'", // ix_ledger_outside
            _ => "",
        };
        await using var command = connection.Command(
            $"""
            SELECT id, kind, amount_nanos, reference, key_id, actor, note, created_at FROM ledger
            WHERE account_id = @account AND id < @before {kind}
            ORDER BY id DESC LIMIT @limit
            """,
            ("@account", accountId), ("@before", beforeId ?? long.MaxValue), ("@limit", limit));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<LedgerEntry>();
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new LedgerEntry(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.ReadNullableString(3),
                reader.ReadNullableString(4), reader.GetString(5), reader.ReadNullableString(6), reader.ReadTime(7)));
        }

        return entries;
    }

    private static async Task<AccountCredits> ReadCreditsAsync(NpgsqlConnection connection, string accountId, CancellationToken cancellationToken)
    {
        await using var command = connection.Command(
            "SELECT balance_nanos, credits_nanos, usage_nanos FROM balances WHERE account_id = @account", ("@account", accountId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new AccountCredits(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2))
            : new AccountCredits(0, 0, 0);
    }

    public async Task<HoldOutcome> HoldAsync(HoldRequest request, CancellationToken cancellationToken)
    {
        var (day, week, month) = SqliteBillingStore.PeriodStarts(request.Now);
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await database.OpenAsync(cancellationToken);
                await using var command = connection.Command(
                    """
                    SELECT outcome, available FROM tollgate_hold(@hold, @account, @key, @amount, @limit::bigint, @reset::text, @day, @week, @month,
                        @instance, @now, @expires)
                    """,
                    ("hold", request.HoldId), ("account", request.AccountId), ("key", request.KeyId), ("amount", request.AmountNanos),
                    ("limit", request.KeyLimitNanos), ("reset", request.KeyLimitReset), ("day", day), ("week", week), ("month", month),
                    ("instance", request.InstanceId), ("now", request.Now.ToUnixTimeMilliseconds()), ("expires", request.ExpiresAt.ToUnixTimeMilliseconds()));
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                await reader.ReadAsync(cancellationToken);
                var outcome = reader.GetInt32(0);
                var available = reader.IsDBNull(1) ? 0 : reader.GetInt64(1);
                return outcome switch
                {
                    0 => new HoldOutcome(true, LimitSource.AccountCredits, available),
                    1 => new HoldOutcome(false, LimitSource.AccountCredits, available),
                    _ => new HoldOutcome(false, LimitSource.KeyLimit, available),
                };
            }
            catch (PostgresException exception) when (exception.IsTransient() && attempt < Attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2 * attempt), cancellationToken);
            }
        }
    }

    public async Task ReleaseAsync(IReadOnlyCollection<string> holdIds, CancellationToken cancellationToken)
    {
        var ids = holdIds.Order(StringComparer.Ordinal).ToArray();
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await database.OpenAsync(cancellationToken);
                await using var command = connection.Command(
                    """
                    WITH d AS (DELETE FROM credit_holds WHERE id = ANY (@ids) RETURNING account_id, key_id, amount_nanos),
                    k AS (UPDATE key_spend s SET held_nanos = GREATEST(s.held_nanos - r.amount, 0)
                          FROM (SELECT key_id, SUM(amount_nanos)::bigint AS amount FROM d GROUP BY key_id) r WHERE s.key_id = r.key_id AND r.amount > 0)
                    UPDATE balances b SET held_nanos = GREATEST(b.held_nanos - r.amount, 0)
                    FROM (SELECT account_id, SUM(amount_nanos)::bigint AS amount FROM d GROUP BY account_id) r
                    WHERE b.account_id = r.account_id AND r.amount > 0
                    """,
                    ("ids", ids));
                await command.ExecuteNonQueryAsync(cancellationToken);
                return;
            }
            catch (PostgresException exception) when (exception.IsTransient() && attempt < Attempts)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(2 * attempt), cancellationToken);
            }
        }
    }

    public async Task HeartbeatAsync(string instanceId, DateTimeOffset startedAt, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            INSERT INTO instances (id, started_at, seen_at) VALUES (@id, @started, @now)
            ON CONFLICT (id) DO UPDATE SET seen_at = @now
            """,
            ("id", instanceId), ("started", startedAt.ToUnixTimeMilliseconds()), ("now", now.ToUnixTimeMilliseconds()));
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public Task<int> SettleExpiredAsync(DateTimeOffset now, DateTimeOffset deadBefore, int limit, CancellationToken cancellationToken) =>
        SettleAtHoldAmountAsync(
            """
            SELECT h.id FROM credit_holds h LEFT JOIN instances i ON i.id = h.instance_id
            WHERE i.id IS NULL OR i.seen_at < @dead OR h.expires_at < @now
            ORDER BY h.id LIMIT @limit FOR UPDATE OF h SKIP LOCKED
            """,
            now, cancellationToken, ("dead", deadBefore.ToUnixTimeMilliseconds()), ("limit", limit));

    public Task<int> SettleHoldsAsync(IReadOnlyCollection<string> holdIds, DateTimeOffset now, CancellationToken cancellationToken) =>
        SettleAtHoldAmountAsync("SELECT id FROM credit_holds WHERE id = ANY (@ids) ORDER BY id FOR UPDATE",
            now, cancellationToken, ("ids", holdIds.ToArray()));

    /// <summary>
    /// Moves the holds <paramref name="selection"/> picks to <c>expired_holds</c> and charges each its full amount (ledger
    /// reference <c>hold:{id}</c>, actor <c>sweeper</c>): what held stays balanced, and a settlement arriving later finds
    /// its hold there and charges nothing more.
    /// </summary>
    private async Task<int> SettleAtHoldAmountAsync(string selection, DateTimeOffset now, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        var (day, week, month) = SqliteBillingStore.PeriodStarts(now);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            $"""
            WITH d AS (
                DELETE FROM credit_holds WHERE id IN ({selection})
                RETURNING id, account_id, key_id, amount_nanos, instance_id, created_at),
            e AS (INSERT INTO expired_holds (id, account_id, key_id, amount_nanos, instance_id, created_at, settled_at)
                  SELECT id, account_id, key_id, amount_nanos, instance_id, created_at, @now FROM d),
            l AS (INSERT INTO ledger (account_id, kind, amount_nanos, reference, key_id, actor, note, created_at)
                  SELECT account_id, 'charge', -amount_nanos, 'hold:' || id, key_id, 'sweeper',
                         'hold not settled by its request: charged at the hold amount, to reconcile', @now
                  FROM d WHERE amount_nanos > 0),
            k AS (UPDATE key_spend s SET held_nanos = GREATEST(s.held_nanos - r.amount, 0), total_nanos = s.total_nanos + r.amount,
                      day_nanos = CASE WHEN s.day_period = @day THEN s.day_nanos + r.amount ELSE r.amount END, day_period = @day,
                      week_nanos = CASE WHEN s.week_period = @week THEN s.week_nanos + r.amount ELSE r.amount END, week_period = @week,
                      month_nanos = CASE WHEN s.month_period = @month THEN s.month_nanos + r.amount ELSE r.amount END, month_period = @month
                  FROM (SELECT key_id, SUM(amount_nanos)::bigint AS amount FROM d GROUP BY key_id) r WHERE s.key_id = r.key_id AND r.amount > 0),
            a AS (UPDATE balances b SET held_nanos = GREATEST(b.held_nanos - r.amount, 0), balance_nanos = b.balance_nanos - r.amount,
                      usage_nanos = b.usage_nanos + r.amount, updated_at = @now
                  FROM (SELECT account_id, SUM(amount_nanos)::bigint AS amount FROM d GROUP BY account_id) r
                  WHERE b.account_id = r.account_id AND r.amount > 0)
            SELECT COUNT(*) FROM d
            """,
            [("now", now.ToUnixTimeMilliseconds()), ("day", day), ("week", week), ("month", month), .. parameters]);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<int> CountLiveInstancesAsync(DateTimeOffset since, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command("SELECT COUNT(*) FROM instances WHERE seen_at >= @since", ("since", since.ToUnixTimeMilliseconds()));
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async Task<(long Held, long SumOfHolds)> GetHeldAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = connection.Command(
            """
            SELECT COALESCE((SELECT held_nanos FROM balances WHERE account_id = @account), 0),
                   COALESCE((SELECT SUM(amount_nanos)::bigint FROM credit_holds WHERE account_id = @account), 0)
            """,
            ("account", accountId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return (reader.GetInt64(0), reader.GetInt64(1));
    }
}

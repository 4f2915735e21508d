using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Tollgate.Credits;
using Tollgate.Usage;

namespace Tollgate.Storage;

/// <remarks>Each read (and each grant, which returns the new balance) first waits for the usage records still on their way
/// to the database (<see cref="PendingUsage"/>); <see cref="WriteUsageAsync"/> is how they get there.</remarks>
internal sealed class SqliteBillingStore(SqliteDatabase database, IOptions<CreditsOptions> options, PendingUsage? pending = null) : IBillingStore
{
    private Task WaitForPendingAsync(CancellationToken cancellationToken) => pending?.WaitAsync(cancellationToken) ?? Task.CompletedTask;

    public async Task<AccountCredits> GetCreditsAsync(string accountId, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ReadCreditsAsync(connection, null, accountId, cancellationToken);
    }

    public async Task<long> GetNewestOutsideEntryAsync(string accountId, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            "SELECT COALESCE(MAX(id), 0) FROM ledger WHERE account_id = @account AND kind <> 'charge'", ("@account", accountId));
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    public async Task<AccountCredits> AddCreditsAsync(string accountId, string kind, long amountNanos, string actor, string? reference,
        string? note, DateTimeOffset at, CancellationToken cancellationToken)
    {
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        using (var insert = connection.Command(
            """
            INSERT INTO ledger (account_id, kind, amount_nanos, reference, actor, note, created_at)
            VALUES (@account, @kind, @amount, @reference, @actor, @note, @at)
            """,
            ("@account", accountId), ("@kind", kind), ("@amount", amountNanos), ("@reference", reference),
            ("@actor", actor), ("@note", note), ("@at", at.ToUnixMs())))
        {
            insert.Transaction = transaction;
            await insert.ExecuteNonQueryAsync(cancellationToken);
        }

        using (var balance = connection.Command(
            """
            INSERT INTO balances (account_id, balance_nanos, credits_nanos, usage_nanos, updated_at)
            VALUES (@account, @amount, @amount, 0, @at)
            ON CONFLICT (account_id) DO UPDATE SET balance_nanos = balance_nanos + @amount,
                credits_nanos = credits_nanos + @amount, updated_at = @at
            """,
            ("@account", accountId), ("@amount", amountNanos), ("@at", at.ToUnixMs())))
        {
            balance.Transaction = transaction;
            await balance.ExecuteNonQueryAsync(cancellationToken);
        }

        var credits = await ReadCreditsAsync(connection, transaction, accountId, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return credits;
    }

    public async Task WriteUsageAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        await database.CommitGate.WaitAsync(cancellationToken);
        try
        {
            await WriteBatchAsync(records, cancellationToken);
        }
        finally
        {
            database.CommitGate.Release();
        }
    }

    private async Task WriteBatchAsync(IReadOnlyList<UsageRecord> records, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);

        // The commit path never checkpoints (that copies the WAL into the database file and fsyncs it,
        // milliseconds): WalCheckpointer does it in the background.
        using (var pragmas = connection.Command(options.Value.FsyncEachCommit
            ? "PRAGMA wal_autocheckpoint = 0; PRAGMA synchronous = FULL;"
            : "PRAGMA wal_autocheckpoint = 0;"))
        {
            await pragmas.ExecuteNonQueryAsync(cancellationToken);
        }

        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(cancellationToken);
        using var record = connection.Command(
            """
            INSERT INTO usage_records (generation_id, account_id, key_id, model, provider, upstream_model, prompt_tokens,
                completion_tokens, cached_tokens, reasoning_tokens, cost_nanos, unpriced, estimated, streamed, cancelled, finish_reason, native_finish_reason,
                status, latency_ms, first_token_ms, http_referer, app_title, task_id, created_at)
            VALUES (@id, @account, @key, @model, @provider, @upstream, @prompt, @completion, @cached, @reasoning, @cost, @unpriced, @estimated, @streamed,
                @cancelled, @finish, @native, @status, @latency, @ttft, @referer, @title, @task, @at)
            ON CONFLICT (generation_id) DO NOTHING
            """,
            ("@id", ""), ("@account", ""), ("@key", ""), ("@model", ""), ("@provider", null), ("@upstream", null), ("@prompt", 0),
            ("@completion", 0), ("@cached", 0), ("@reasoning", 0), ("@cost", 0L), ("@unpriced", false), ("@estimated", false), ("@streamed", false), ("@cancelled", false),
            ("@finish", null), ("@native", null), ("@status", 0), ("@latency", 0L), ("@ttft", null), ("@referer", null),
            ("@title", null), ("@task", null), ("@at", 0L));
        using var daily = connection.Command(
            """
            INSERT INTO usage_daily (account_id, day, key_id, model, requests, prompt_tokens, completion_tokens, cost_nanos, unpriced_requests)
            VALUES (@account, @day, @key, @model, @requests, @prompt, @completion, @cost, @unpriced)
            ON CONFLICT (account_id, day, key_id, model) DO UPDATE SET requests = requests + @requests,
                prompt_tokens = prompt_tokens + @prompt, completion_tokens = completion_tokens + @completion, cost_nanos = cost_nanos + @cost,
                unpriced_requests = unpriced_requests + @unpriced
            """,
            ("@account", ""), ("@day", 0L), ("@key", ""), ("@model", ""), ("@requests", 0L), ("@prompt", 0L), ("@completion", 0L), ("@cost", 0L),
            ("@unpriced", 0L));
        // The 15-minute rollups the dashboard's charts read (any time zone's days are whole ranges of them).
        using var byModel = RollupCommand(connection, "usage_rollup_model", "model");
        using var byKey = RollupCommand(connection, "usage_rollup_key", "key_id");
        using var byApp = RollupCommand(connection, "usage_rollup_app", "app");

        // Rollup rows are summed over the batch first and each written once: a group commit of many calls of one
        // key and model (the usual case under load) makes four upserts, not four per call.
        var dailySums = new Dictionary<(string Account, long Day, string Key, string Model), RollupSums>();
        var modelSums = new Dictionary<(string Account, long Bucket, string Group), RollupSums>();
        var keySums = new Dictionary<(string Account, long Bucket, string Group), RollupSums>();
        var appSums = new Dictionary<(string Account, long Bucket, string Group), RollupSums>();
        using var charge = connection.Command(
            """
            INSERT INTO ledger (account_id, kind, amount_nanos, reference, key_id, actor, created_at)
            VALUES (@account, 'charge', -@cost, @id, @key, 'gateway', @at)
            """,
            ("@account", ""), ("@cost", 0L), ("@id", ""), ("@key", ""), ("@at", 0L));
        using var balance = connection.Command(
            """
            INSERT INTO balances (account_id, balance_nanos, credits_nanos, usage_nanos, updated_at)
            VALUES (@account, -@cost, 0, @cost, @at)
            ON CONFLICT (account_id) DO UPDATE SET balance_nanos = balance_nanos - @cost, usage_nanos = usage_nanos + @cost, updated_at = @at
            """,
            ("@account", ""), ("@cost", 0L), ("@at", 0L));
        foreach (var command in new[] { record, daily, byModel, byKey, byApp, charge, balance })
        {
            command.Transaction = transaction;
        }

        foreach (var r in records)
        {
            Set(record, ("@id", r.GenerationId), ("@account", r.AccountId), ("@key", r.KeyId), ("@model", r.Model), ("@provider", r.Provider),
                ("@upstream", r.UpstreamModel), ("@prompt", r.PromptTokens), ("@completion", r.CompletionTokens), ("@cached", r.CachedTokens),
                ("@reasoning", r.ReasoningTokens), ("@cost", r.CostNanos), ("@unpriced", r.Unpriced), ("@estimated", r.Estimated), ("@streamed", r.Streamed), ("@cancelled", r.Cancelled),
                ("@finish", r.FinishReason), ("@native", r.NativeFinishReason), ("@status", r.Status), ("@latency", r.LatencyMs),
                ("@ttft", r.FirstTokenMs), ("@referer", r.HttpReferer), ("@title", r.AppTitle), ("@task", r.TaskId), ("@at", r.CreatedAt.ToUnixMs()));
            if (await record.ExecuteNonQueryAsync(cancellationToken) == 0)
            {
                continue; // written before: neither the rollup nor the charge may count twice
            }

            var bucket = UsageBuckets.Of(r.CreatedAt);
            RollupSums.Add(dailySums, (r.AccountId, Day(r.CreatedAt), r.KeyId, r.Model), r);
            RollupSums.Add(modelSums, (r.AccountId, bucket, r.Model), r);
            RollupSums.Add(keySums, (r.AccountId, bucket, r.KeyId), r);
            RollupSums.Add(appSums, (r.AccountId, bucket, r.AppTitle ?? ""), r);
            if (r.CostNanos <= 0)
            {
                continue;
            }

            Set(charge, ("@account", r.AccountId), ("@cost", r.CostNanos), ("@id", r.GenerationId), ("@key", r.KeyId), ("@at", r.CreatedAt.ToUnixMs()));
            await charge.ExecuteNonQueryAsync(cancellationToken);
            Set(balance, ("@account", r.AccountId), ("@cost", r.CostNanos), ("@at", r.CreatedAt.ToUnixMs()));
            await balance.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var ((account, day, key, model), sums) in dailySums)
        {
            Set(daily, ("@account", account), ("@day", day), ("@key", key), ("@model", model), ("@requests", sums.Requests), ("@prompt", sums.Prompt),
                ("@completion", sums.Completion), ("@cost", sums.Cost), ("@unpriced", sums.Unpriced));
            await daily.ExecuteNonQueryAsync(cancellationToken);
        }

        foreach (var (command, rows) in new[] { (byModel, modelSums), (byKey, keySums), (byApp, appSums) })
        {
            foreach (var ((account, bucket, group), sums) in rows)
            {
                Set(command, ("@account", account), ("@bucket", bucket), ("@group", group), ("@requests", sums.Requests), ("@prompt", sums.Prompt),
                    ("@completion", sums.Completion), ("@cost", sums.Cost), ("@unpriced", sums.Unpriced));
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }

        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>What a batch adds to one rollup row (the PostgreSQL store sums the same way).</summary>
    internal struct RollupSums
    {
        public long Requests, Prompt, Completion, Cost, Unpriced;

        public static void Add<TKey>(Dictionary<TKey, RollupSums> rows, TKey key, UsageRecord r) where TKey : notnull
        {
            ref var sums = ref CollectionsMarshal.GetValueRefOrAddDefault(rows, key, out _);
            sums.Requests++;
            sums.Prompt += r.PromptTokens;
            sums.Completion += r.CompletionTokens;
            sums.Cost += r.CostNanos;
            sums.Unpriced += r.Unpriced ? 1 : 0;
        }
    }

    /// <summary>An upsert into one of the 15-minute rollups; <paramref name="groupColumn"/> is a constant of this class.</summary>
    private static SqliteCommand RollupCommand(SqliteConnection connection, string table, string groupColumn) => connection.Command(
        $"""
        INSERT INTO {table} (account_id, bucket, {groupColumn}, requests, prompt_tokens, completion_tokens, cost_nanos, unpriced_requests)
        VALUES (@account, @bucket, @group, @requests, @prompt, @completion, @cost, @unpriced)
        ON CONFLICT (account_id, bucket, {groupColumn}) DO UPDATE SET requests = requests + @requests,
            prompt_tokens = prompt_tokens + @prompt, completion_tokens = completion_tokens + @completion, cost_nanos = cost_nanos + @cost,
            unpriced_requests = unpriced_requests + @unpriced
        """,
        ("@account", ""), ("@bucket", 0L), ("@group", ""), ("@requests", 0L), ("@prompt", 0L), ("@completion", 0L), ("@cost", 0L), ("@unpriced", 0L));

    public async Task<KeySpend> GetKeySpendAsync(string keyId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var (day, week, month) = PeriodStarts(now);
        await WaitForPendingAsync(cancellationToken);
        await using var connection = await database.OpenAsync(cancellationToken);
        using var command = connection.Command(
            """
            SELECT COALESCE(SUM(cost_nanos), 0),
                   COALESCE(SUM(CASE WHEN day >= @day THEN cost_nanos END), 0),
                   COALESCE(SUM(CASE WHEN day >= @week THEN cost_nanos END), 0),
                   COALESCE(SUM(CASE WHEN day >= @month THEN cost_nanos END), 0)
            FROM usage_daily WHERE key_id = @key
            """,
            ("@key", keyId), ("@day", day), ("@week", week), ("@month", month));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        return new KeySpend(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    /// <summary>The first UTC day of the current day, week (from Monday) and month, as days since 1970-01-01.</summary>
    internal static (long Day, long Week, long Month) PeriodStarts(DateTimeOffset now)
    {
        var today = DateOnly.FromDateTime(now.UtcDateTime);
        var sinceMonday = ((int)today.DayOfWeek + 6) % 7;
        return (Day(today), Day(today.AddDays(-sinceMonday)), Day(new DateOnly(today.Year, today.Month, 1)));
    }

    internal static long Day(DateTimeOffset time) => Day(DateOnly.FromDateTime(time.UtcDateTime));

    private static long Day(DateOnly date) => date.DayNumber - DateOnly.FromDayNumber(0).AddYears(1969).DayNumber;

    private static void Set(SqliteCommand command, params (string Name, object? Value)[] values)
    {
        foreach (var (name, value) in values)
        {
            command.Parameters[name].Value = value ?? DBNull.Value;
        }
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
        using var command = connection.Command(
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

    private static async Task<AccountCredits> ReadCreditsAsync(SqliteConnection connection, SqliteTransaction? transaction, string accountId,
        CancellationToken cancellationToken)
    {
        using var command = connection.Command(
            "SELECT balance_nanos, credits_nanos, usage_nanos FROM balances WHERE account_id = @account", ("@account", accountId));
        command.Transaction = transaction;
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken)
            ? new AccountCredits(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2))
            : new AccountCredits(0, 0, 0);
    }
}

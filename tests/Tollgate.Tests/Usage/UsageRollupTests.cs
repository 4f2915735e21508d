using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Tollgate.Credits;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>The 15-minute rollups: written with each record in the group commit, and back-filled by migration 0005 to the same rows.</summary>
public sealed class UsageRollupTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Start = new(2026, 5, 12, 23, 0, 0, TimeSpan.Zero);
    private static readonly string[] Tables = ["usage_rollup_model", "usage_rollup_key", "usage_rollup_app", "usage_daily"];
    private UsageDatabase _db = null!;

    public async ValueTask InitializeAsync()
    {
        _db = await UsageDatabase.CreateAsync();
        await _db.AddAccountAsync("acc_two");
    }

    public ValueTask DisposeAsync()
    {
        _db.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Calls of two accounts, three keys, three models and apps (some none), on and around quarter-hour and day boundaries.</summary>
    private UsageRecord[] Calls()
    {
        var random = new Random(7);
        string[] models = ["a/one", "b/two", "c/three"];
        string?[] apps = [null, "Cline", "Aider", "=evil"];
        return Enumerable.Range(0, 300).Select(i =>
        {
            var at = Start.AddMinutes(15 * random.Next(0, 12)).AddMilliseconds(random.Next(0, 3) switch { 0 => 0, 1 => -1, _ => random.Next(1, 899_999) });
            var account = i % 5 == 0 ? "acc_two" : UsageDatabase.AccountId;
            return _db.Call(account == "acc_two" ? "key_two" : $"key_{i % 2}", at, models[random.Next(models.Length)], random.Next(0, 5) * 1_000L,
                account) with
            {
                AppTitle = apps[random.Next(apps.Length)],
                PromptTokens = random.Next(0, 5000),
                CompletionTokens = random.Next(0, 500),
            };
        }).ToArray();
    }

    private static async Task<List<string>> DumpAsync(SqliteDatabase database, string table)
    {
        await using var connection = await database.OpenAsync(CancellationToken.None);
        using var command = connection.Command($"SELECT * FROM {table} ORDER BY 1, 2, 3, 4");
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }

    [Fact]
    public async Task Migration_RecordsFromBeforeIt_AreRolledUpExactlyAsTheWritePathRollsThemUp()
    {
        Assert.SkipWhen(TestStorage.Postgres, "SQLite's migration 0005 back-fill of a schema-4 file; PostgreSQL's schema starts with the rollups");
        var calls = Calls();
        await _db.WriteAsync(calls);
        var folder = Directory.CreateTempSubdirectory("tollgate-legacy-").FullName;
        try
        {
            var legacy = await UsageDatabase.CreateAtVersionAsync(Path.Combine(folder, "legacy.db"), version: 4);
            await using (var connection = await legacy.OpenAsync(CancellationToken.None))
            {
                foreach (var r in calls)
                {
                    // The record and its daily rollup as the write path of schema 4 left them.
                    using var insert = connection.Command(
                        """
                        INSERT INTO usage_records (generation_id, account_id, key_id, model, prompt_tokens, completion_tokens, cached_tokens, cost_nanos,
                            estimated, streamed, cancelled, status, latency_ms, app_title, created_at)
                        VALUES (@id, @account, @key, @model, @prompt, @completion, 0, @cost, 0, 0, 0, 200, 100, @app, @at);
                        INSERT INTO usage_daily (account_id, day, key_id, model, requests, prompt_tokens, completion_tokens, cost_nanos)
                        VALUES (@account, @day, @key, @model, 1, @prompt, @completion, @cost)
                        ON CONFLICT (account_id, day, key_id, model) DO UPDATE SET requests = requests + 1, prompt_tokens = prompt_tokens + @prompt,
                            completion_tokens = completion_tokens + @completion, cost_nanos = cost_nanos + @cost
                        """,
                        ("@id", r.GenerationId), ("@account", r.AccountId), ("@key", r.KeyId), ("@model", r.Model), ("@prompt", r.PromptTokens),
                        ("@completion", r.CompletionTokens), ("@cost", r.CostNanos), ("@app", r.AppTitle), ("@at", r.CreatedAt.ToUnixMs()),
                        ("@day", SqliteBillingStore.Day(r.CreatedAt)));
                    await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
                }

                var applied = await new MigrationRunner("sqlite", NullLogger.Instance).ApplyAsync(connection, TimeProvider.System, CancellationToken.None);
                Assert.True(applied >= 1);
            }

            foreach (var table in Tables)
            {
                var migrated = await DumpAsync(legacy, table);
                Assert.NotEmpty(migrated);
                Assert.Equal(await DumpAsync(_db.Database, table), migrated);
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public async Task Write_SameGenerationTwice_CountsOnceInEveryRollup()
    {
        var call = _db.Call("key_0", Start) with { AppTitle = "Cline", Unpriced = true, CostNanos = 0 };
        await _db.WriteAsync(call);
        await _db.WriteAsync(call, call);

        foreach (var table in Tables)
        {
            Assert.Equal(1, await _db.ScalarAsync($"SELECT SUM(requests) FROM {table}"));
            Assert.Equal(1, await _db.ScalarAsync($"SELECT SUM(unpriced_requests) FROM {table}"));
        }
    }

    [Fact]
    public async Task Write_CallsAtAQuarterHourBoundary_LandInTheBucketTheyBelongTo()
    {
        Assert.SkipWhen(TestStorage.Postgres, "DumpAsync reads the rollup rows through the SQLite file (a SqliteDatabase)");
        var boundary = new DateTimeOffset(2026, 5, 13, 12, 15, 0, TimeSpan.Zero);
        await _db.WriteAsync(_db.Call("key_0", boundary.AddMilliseconds(-1)), _db.Call("key_0", boundary), _db.Call("key_0", boundary.AddMinutes(15).AddMilliseconds(-1)));

        var buckets = await DumpAsync(_db.Database, "usage_rollup_key");

        var first = UsageBuckets.Of(boundary);
        Assert.Equal([$"{UsageDatabase.AccountId}|{first - 1}|key_0|1|10|20|1000|0", $"{UsageDatabase.AccountId}|{first}|key_0|2|20|40|2000|0"], buckets);
        Assert.Equal(boundary, UsageBuckets.Start(first));
    }
}

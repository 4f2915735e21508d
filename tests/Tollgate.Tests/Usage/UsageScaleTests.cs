using System.Diagnostics;
using System.Net;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;
using Tollgate.Usage;

namespace Tollgate.Tests.Usage;

/// <summary>
/// A Tollgate whose database already holds 1,000,000 usage records of five accounts, written at schema version 4
/// (before the 15-minute rollups), so that starting it runs migration 0005 over them: the back-fill and the new
/// indexes at that scale. The biggest account has 600,000 calls over 90 days, 12 keys, 8 models and 30 apps.
/// </summary>
public sealed class UsageScaleFixture : IAsyncLifetime
{
    public const string BigAccount = "acc_big";
    public const int Records = 1_000_000;

    /// <summary>The last call is at 23:59:59 UTC on 13 May 2026; the first 90 days before.</summary>
    public static readonly DateTimeOffset End = new(2026, 5, 14, 0, 0, 0, TimeSpan.Zero);

    private const long SpanMs = 90L * 24 * 60 * 60 * 1000;

    public TollgateFactory Tollgate { get; } = new();

    public TimeSpan Seeding { get; private set; }

    public TimeSpan Migration { get; private set; }

    public async ValueTask InitializeAsync()
    {
        var stopwatch = Stopwatch.StartNew();
        var database = await UsageDatabase.CreateAtVersionAsync(Tollgate.DatabasePath, version: 4);
        await using (var connection = await database.OpenAsync(CancellationToken.None))
        {
            await using var transaction = (Microsoft.Data.Sqlite.SqliteTransaction)await connection.BeginTransactionAsync();
            using var seed = connection.Command(
                """
                INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at)
                SELECT id, id || '@example.com', id || '@example.com', id, 'member', 'x', 0
                FROM (SELECT 'acc_big' AS id UNION ALL SELECT 'acc_1' UNION ALL SELECT 'acc_2' UNION ALL SELECT 'acc_3' UNION ALL SELECT 'acc_4');

                WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 11)
                INSERT INTO api_keys (id, account_id, name, label, secret_hash, scopes, created_at)
                SELECT 'key_big_' || n, 'acc_big', 'key ' || n, 'sk-tg-v1-abc...wxyz', 'hash_big_' || n, 'usage:read', 0 FROM k
                UNION ALL
                SELECT 'key_' || a || '_' || n, 'acc_' || a, 'key ' || n, 'sk-tg-v1-abc...wxyz', 'hash_' || a || '_' || n, 'usage:read', 0
                FROM (SELECT 1 AS a UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) CROSS JOIN k WHERE n < 3;

                -- Six calls in ten are the big account's, interleaved with the others', in time order; key, model and app
                -- come from different bits of a multiplicative hash of the sequence, so that they vary independently.
                WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < @records - 1),
                hashed AS (SELECT i, (i * 2654435761) % 4294967296 AS h FROM seq)
                INSERT INTO usage_records (generation_id, account_id, key_id, model, provider, prompt_tokens, completion_tokens, cached_tokens,
                    cost_nanos, estimated, streamed, cancelled, finish_reason, status, latency_ms, first_token_ms, http_referer, app_title, created_at)
                SELECT printf('gen-%08d', i),
                       CASE WHEN i % 10 < 6 THEN 'acc_big' ELSE 'acc_' || (i % 10 - 5) END,
                       CASE WHEN i % 10 < 6 THEN 'key_big_' || ((h >> 4) % 12) ELSE 'key_' || (i % 10 - 5) || '_' || ((h >> 4) % 3) END,
                       'provider/model-' || ((h >> 11) % 8), 'demo', 100 + i % 900, 10 + i % 90, 0, (i % 1000) * 1000, 0, i % 2, 0, 'stop', 200,
                       200 + i % 800, 50 + i % 100, 'https://app.example/' || ((h >> 17) % 30),
                       CASE WHEN i % 5 = 0 THEN NULL ELSE 'App ' || ((h >> 17) % 30) END,
                       @first + i * (@span / @records)
                FROM hashed;

                INSERT INTO usage_daily (account_id, day, key_id, model, requests, prompt_tokens, completion_tokens, cost_nanos)
                SELECT account_id, created_at / 86400000, key_id, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens), SUM(cost_nanos)
                FROM usage_records GROUP BY account_id, created_at / 86400000, key_id, model;

                -- The big account's ledger: one charge per call (600,000 lines), for the credits page.
                INSERT INTO ledger (account_id, kind, amount_nanos, reference, key_id, actor, created_at)
                SELECT account_id, 'charge', -cost_nanos, generation_id, key_id, 'gateway', created_at FROM usage_records
                WHERE account_id = 'acc_big' ORDER BY created_at;
                """,
                ("@records", Records), ("@first", End.ToUnixMs() - SpanMs), ("@span", SpanMs));
            seed.Transaction = transaction;
            seed.CommandTimeout = 600;
            await seed.ExecuteNonQueryAsync();
            await transaction.CommitAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Seeding = stopwatch.Elapsed;
        stopwatch.Restart();
        Tollgate.StartServer(); // migrates to the current schema: 0005 back-fills the rollups of the million records
        Migration = stopwatch.Elapsed;
    }

    public async ValueTask DisposeAsync() => await Tollgate.DisposeAsync();
}

/// <summary>These measure time: they run alone, not beside other test classes.</summary>
[CollectionDefinition(nameof(UsageScaleTests), DisableParallelization = true)]
public sealed class UsageScaleRunsAlone;

/// <summary>
/// The usage page at scale: with 1,000,000 records in the database, each read the page makes answers in under 300 ms
/// for the biggest account, first page or deep, filtered or not, and the charts' 30-day series.
/// </summary>
[Collection(nameof(UsageScaleTests))]
public sealed class UsageScaleTests(UsageScaleFixture fixture, ITestOutputHelper output) : IClassFixture<UsageScaleFixture>
{
    /// <summary>Generous for a shared two-core machine: the reads take a few milliseconds when it is quiet.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromMilliseconds(300);

    private UsageService Usage => fixture.Tollgate.Service<UsageService>();

    /// <summary>The median of three timed runs, after one untimed warm-up run.</summary>
    private static async Task<(TimeSpan Median, T Result)> TimeAsync<T>(Func<Task<T>> read)
    {
        var result = await read();
        var times = new List<TimeSpan>();
        for (var i = 0; i < 3; i++)
        {
            var stopwatch = Stopwatch.StartNew();
            result = await read();
            times.Add(stopwatch.Elapsed);
        }

        times.Sort();
        return (times[1], result);
    }

    private async Task<string> PositionCursorAsync(int sequence)
    {
        await using var connection = await fixture.Tollgate.Service<SqliteDatabase>().OpenAsync(CancellationToken.None);
        using var command = connection.Command("SELECT created_at FROM usage_records WHERE generation_id = @id", ("@id", $"gen-{sequence:D8}"));
        var createdAt = (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        return UsageCursor.Encode(new UsageCallPosition(createdAt, $"gen-{sequence:D8}"));
    }

    [Fact]
    public async Task UsagePage_AMillionRecords_EveryReadOfTheBiggestAccountUnder300Ms()
    {
        Assert.SkipWhen(TestStorage.Postgres, "UsageScaleFixture seeds a SQLite file at schema 4 and starts Tollgate on it; there is no PostgreSQL seeding yet");
        var ct = TestContext.Current.CancellationToken;
        const string account = UsageScaleFixture.BigAccount;
        var kolkata = TimeZoneInfo.FindSystemTimeZoneById("Asia/Kolkata");
        var to = new DateOnly(2026, 5, 13);
        var deep = await PositionCursorAsync(500_000);
        var recent = new DateTimeOffset(2026, 5, 1, 0, 0, 0, TimeSpan.Zero);
        var reads = new (string Name, Func<Task<int>> Read)[]
        {
            ("first page, 50 calls", async () => (await Usage.GetCallsAsync(account, new UsageCallFilter(), null, 50, ct)).Calls.Count),
            ("filtered by key", async () => (await Usage.GetCallsAsync(account, new UsageCallFilter(KeyId: "key_big_3"), null, 50, ct)).Calls.Count),
            ("filtered by model", async () => (await Usage.GetCallsAsync(account, new UsageCallFilter(Model: "provider/model-5"), null, 50, ct)).Calls.Count),
            ("filtered by app", async () => (await Usage.GetCallsAsync(account, new UsageCallFilter(App: "App 17"), null, 50, ct)).Calls.Count),
            ("key + model + app + dates", async () => (await Usage.GetCallsAsync(account,
                new UsageCallFilter("key_big_3", "provider/model-5", "App 17", recent, recent.AddDays(7)), null, 50, ct)).Calls.Count),
            ("200 calls deep in via cursor", async () => (await Usage.GetCallsAsync(account, new UsageCallFilter(), deep, 200, ct)).Calls.Count),
            ("by model, deep in via cursor", async () =>
                (await Usage.GetCallsAsync(account, new UsageCallFilter(Model: "provider/model-2"), deep, 50, ct)).Calls.Count),
            ("30-day series by model (Kolkata)", async () =>
                (await Usage.GetSeriesAsync(account, to.AddDays(-29), to, kolkata, UsageSeriesGrouping.Model, ct)).Groups.Count),
            ("30-day series by key (Kolkata)", async () =>
                (await Usage.GetSeriesAsync(account, to.AddDays(-29), to, kolkata, UsageSeriesGrouping.Key, ct)).Groups.Count),
            ("30-day filter choices", async () =>
                (await Usage.GetFilterChoicesAsync(account, to.AddDays(-29), to, kolkata, ct)).Apps.Count),
            ("data through", async () => (await Usage.GetDataThroughAsync(account, ct)) is null ? 0 : 1),
        };

        output.WriteLine($"seeded {UsageScaleFixture.Records:N0} records in {fixture.Seeding.TotalSeconds:F1} s; migration 0005 in {fixture.Migration.TotalSeconds:F1} s");
        var slow = new List<string>();
        foreach (var (name, read) in reads)
        {
            var (median, count) = await TimeAsync(read);
            output.WriteLine($"{name}: {median.TotalMilliseconds:F1} ms ({count} rows)");
            Assert.True(count > 0, name + " found nothing: the test data is not what the test thinks");
            if (median >= Bound)
            {
                slow.Add($"{name}: {median.TotalMilliseconds:F0} ms");
            }
        }

        Assert.Empty(slow);
    }

    [Fact]
    public async Task Generations_AMillionRecords_FirstAndDeepPagesOverHttpUnder300Ms()
    {
        Assert.SkipWhen(TestStorage.Postgres, "UsageScaleFixture seeds a SQLite file at schema 4 and starts Tollgate on it; there is no PostgreSQL seeding yet");
        var (_, secret) = await fixture.Tollgate.CreateKeyAsync(UsageScaleFixture.BigAccount);
        using var client = fixture.Tollgate.Client(secret);
        var deep = Uri.EscapeDataString(await PositionCursorAsync(300_000));

        foreach (var query in new[] { "?limit=50", "?limit=200&cursor=" + deep, "?model=provider%2Fmodel-1&app=App%203&limit=50" })
        {
            var (median, status) = await TimeAsync(async () =>
            {
                using var response = await client.GetAsync("/api/v1/generations" + query, TestContext.Current.CancellationToken);
                await response.Content.ReadAsByteArrayAsync(TestContext.Current.CancellationToken);
                return response.StatusCode;
            });
            output.WriteLine($"GET /api/v1/generations{query}: {median.TotalMilliseconds:F1} ms");
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.True(median < Bound, $"{query}: {median.TotalMilliseconds:F0} ms");
        }
    }

    [Fact]
    public async Task CreditsPage_SixHundredThousandLedgerLines_FirstFilteredAndDeepPagesUnder300MsOverHttp()
    {
        Assert.SkipWhen(TestStorage.Postgres, "UsageScaleFixture seeds a SQLite file at schema 4 and starts Tollgate on it; there is no PostgreSQL seeding yet");
        var ct = TestContext.Current.CancellationToken;
        using var session = await SignInBigAccountAsync(ct);
        foreach (var query in new[] { "", "?kind=charges", "?kind=credits", "?before=300000", "?kind=charges&before=100" })
        {
            var (median, html) = await TimeAsync(async () => await session.GetStringAsync("/credits" + query, ct));
            output.WriteLine($"GET /credits{query}: {median.TotalMilliseconds:F1} ms");
            Assert.Contains(query.Contains("credits", StringComparison.Ordinal) ? "No lines here" : "data-ledger-id=", html, StringComparison.Ordinal);
            Assert.True(median < Bound, $"/credits{query}: {median.TotalMilliseconds:F0} ms");
        }
    }

    private async Task<HttpClient> SignInBigAccountAsync(CancellationToken ct)
    {
        var account = (await fixture.Tollgate.Service<Tollgate.Accounts.AccountService>().FindAsync(UsageScaleFixture.BigAccount, ct))!;
        var hash = new Microsoft.AspNetCore.Identity.PasswordHasher<Tollgate.Accounts.Account>().HashPassword(account, Dashboard.DashboardUsers.Password);
        await fixture.Tollgate.Service<Tollgate.Accounts.IAccountStore>().SetPasswordAsync(account.Id, hash, "scale-stamp", ct);
        return await Dashboard.DashboardUsers.SignedInClientAsync(fixture.Tollgate, account.Email);
    }

    [Fact]
    public async Task UsageDashboardPage_AMillionRecords_AnswersUnder300MsOverHttp()
    {
        Assert.SkipWhen(TestStorage.Postgres, "UsageScaleFixture seeds a SQLite file at schema 4 and starts Tollgate on it; there is no PostgreSQL seeding yet");
        // The biggest account signs in to the dashboard; its usage page (charts of 30 days, the first page of calls, the
        // filter choices) is one request, as are a filtered page and a page deep in.
        var ct = TestContext.Current.CancellationToken;
        using var session = await SignInBigAccountAsync(ct);
        var range = "range=custom&from=2026-04-14&to=2026-05-13";
        var deep = Uri.EscapeDataString(await PositionCursorAsync(950_000)); // 9 May, inside the range

        foreach (var query in new[] { range, range + "&group=key&metric=requests", range + "&key=key_big_3&model=provider%2Fmodel-5", range + "&cursor=" + deep })
        {
            var (median, html) = await TimeAsync(async () => await session.GetStringAsync("/usage?" + query, ct));
            output.WriteLine($"GET /usage?{query}: {median.TotalMilliseconds:F1} ms");
            Assert.Contains("data-generation=", html, StringComparison.Ordinal);
            Assert.True(median < Bound, $"/usage?{query}: {median.TotalMilliseconds:F0} ms");
        }
    }

    [Fact]
    public async Task Migration_AMillionRecords_RollupsAddUpToTheRecords()
    {
        Assert.SkipWhen(TestStorage.Postgres, "UsageScaleFixture seeds a SQLite file at schema 4 and starts Tollgate on it; there is no PostgreSQL seeding yet");
        await using var connection = await fixture.Tollgate.Service<SqliteDatabase>().OpenAsync(CancellationToken.None);
        async Task<long> ScalarAsync(string sql)
        {
            using var command = connection.Command(sql);
            return (long)(await command.ExecuteScalarAsync(TestContext.Current.CancellationToken))!;
        }

        var cost = await ScalarAsync("SELECT SUM(cost_nanos) FROM usage_records");
        foreach (var table in new[] { "usage_rollup_model", "usage_rollup_key", "usage_rollup_app" })
        {
            Assert.Equal(UsageScaleFixture.Records, await ScalarAsync($"SELECT SUM(requests) FROM {table}"));
            Assert.Equal(cost, await ScalarAsync($"SELECT SUM(cost_nanos) FROM {table}"));
        }
    }
}

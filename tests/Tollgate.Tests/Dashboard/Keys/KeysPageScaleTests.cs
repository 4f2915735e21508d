using System.Diagnostics;
using System.Net;
using Microsoft.Data.Sqlite;
using Tollgate.Accounts;
using Tollgate.Storage;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Dashboard.Keys;

/// <summary>
/// The keys page at scale: 10,000 keys across 20 accounts (the signed-in one holds 500, the most an account may have),
/// each with 90 days of spend in two models (900,000 rollup rows). A page, a search and a page deep in answer in
/// under 300 ms: the list reads one page of keys and the spend of those keys only.
/// </summary>
public sealed class KeysPageScaleTests : IDisposable
{
    private readonly TollgateFactory _tollgate = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _tollgate.Dispose();

    [Fact]
    public async Task KeysPage_With10000KeysAcross20Accounts_AnswersUnder300Milliseconds()
    {
        var owner = await DashboardUsers.CreateAsync(_tollgate, AccountRole.Owner);
        await SeedAsync(owner.Id);
        using var session = await DashboardUsers.SignedInClientAsync(_tollgate, owner.Email);

        var first = await TimedAsync(session, "/settings/keys");
        var cursor = System.Text.RegularExpressions.Regex.Match(first.Html, "after=([A-Za-z0-9_\\-]+)").Groups[1].Value;
        var searched = await TimedAsync(session, "/settings/keys?q=key+0042");
        var second = await TimedAsync(session, $"/settings/keys?after={cursor}");
        var disabled = await TimedAsync(session, "/settings/keys?status=disabled");

        Assert.Contains("50 keys shown of 500", first.Html, StringComparison.Ordinal);
        Assert.Contains("key 0042", searched.Html, StringComparison.Ordinal);
        Assert.Contains("key 0449", second.Html, StringComparison.Ordinal); // the second page of newest-first
        Assert.All(new[] { first, searched, second, disabled }, page =>
            Assert.True(page.Took < TimeSpan.FromMilliseconds(300), $"{page.Path} took {page.Took.TotalMilliseconds:0} ms"));
        TestContext.Current.SendDiagnosticMessage(
            $"keys page at 10,000 keys: first {first.Took.TotalMilliseconds:0.0} ms, search {searched.Took.TotalMilliseconds:0.0} ms, " +
            $"second page {second.Took.TotalMilliseconds:0.0} ms, status filter {disabled.Took.TotalMilliseconds:0.0} ms");
    }

    private async Task SeedAsync(string ownerId)
    {
        await using var connection = new SqliteConnection($"Data Source={_tollgate.DatabasePath};Pooling=False");
        await connection.OpenAsync(Ct);
        await using var transaction = (SqliteTransaction)await connection.BeginTransactionAsync(Ct);
        using var seed = connection.Command(
            """
            WITH RECURSIVE a(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM a WHERE n < 19)
            INSERT INTO accounts (id, email, email_normalized, display_name, role, password_hash, created_at, security_stamp)
            SELECT 'acc_scale_' || n, 'scale' || n || '@example.com', 'scale' || n || '@example.com', 'scale ' || n, 'member', 'x', 0, 's' FROM a;

            WITH RECURSIVE k(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM k WHERE n < 9999)
            INSERT INTO api_keys (id, account_id, name, label, secret_hash, scopes, disabled, limit_nanos, created_at, last_used_at, expires_at)
            SELECT printf('key_scale_%05d', n),
                   CASE WHEN n < 500 THEN @owner ELSE 'acc_scale_' || (n % 19 + 1) END,
                   printf('key %04d', n % 500), 'sk-tg-v1-abc...wxyz', 'hash_' || n, 'inference usage:read', n % 17 = 0,
                   CASE WHEN n % 3 = 0 THEN 5000000000 END, @start + n * 60000, CASE WHEN n % 4 > 0 THEN @start + n * 90000 END,
                   CASE WHEN n % 5 = 0 THEN @start + 400 * 86400000 END
            FROM k;

            WITH RECURSIVE d(day) AS (SELECT 0 UNION ALL SELECT day + 1 FROM d WHERE day < 89)
            INSERT INTO usage_daily (account_id, day, key_id, model, requests, prompt_tokens, completion_tokens, cost_nanos)
            SELECT k.account_id, @today - d.day, k.id, m.model, 3, 300, 30, 12345
            FROM api_keys k CROSS JOIN d CROSS JOIN (SELECT 'demo/echo' AS model UNION ALL SELECT 'openai/gpt-4o') m
            WHERE k.id LIKE 'key_scale_%';
            """,
            ("@owner", ownerId), ("@start", DateTimeOffset.UtcNow.AddDays(-60).ToUnixMs()),
            ("@today", DateTimeOffset.UtcNow.ToUnixTimeSeconds() / 86400));
        seed.Transaction = transaction;
        seed.CommandTimeout = 300;
        await seed.ExecuteNonQueryAsync(Ct);
        await transaction.CommitAsync(Ct);
    }

    private static async Task<(string Path, TimeSpan Took, string Html)> TimedAsync(HttpClient session, string path)
    {
        using (var warm = await session.GetAsync(path, Ct))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        var best = TimeSpan.MaxValue;
        var html = "";
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            html = await session.GetStringAsync(path, Ct);
            best = clock.Elapsed < best ? clock.Elapsed : best;
        }

        return (path, best, html);
    }
}

using System.Net;
using System.Text.Json;
using Tollgate.ApiKeys;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Usage;

/// <summary><c>GET /api/v1/usage</c> on a fixed clock: today is Wednesday 13 May 2026, so the default range is 14 April to 13 May.</summary>
public sealed class UsageApiTests(FixedClockTollgateFactory factory) : IClassFixture<FixedClockTollgateFactory>
{
    private const string ModelA = "demo/echo";
    private const string ModelB = "anthropic/claude-sonnet-4-6";

    private sealed record Setup(HttpClient Client, ApiKey Reader, ApiKey Worker) : IDisposable
    {
        public void Dispose() => Client.Dispose();
    }

    /// <summary>
    /// 13 May: reader 2 × A at 0.01, worker 1 × B at 0.02; 12 May: reader B 0.04;
    /// 20 April: worker A 0.08; 1 April (outside the default range): reader A 0.16.
    /// </summary>
    private async Task<Setup> ArrangeAsync()
    {
        var account = await factory.CreateAccountAsync();
        var (reader, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"reader"}""");
        var (worker, _) = await factory.CreateKeyAsync(account.Id, """{"name":"worker","scopes":["inference"]}""");
        await factory.WriteUsageAsync(
            UsageTestData.Record(reader, At(5, 13, 1), 0.01m, ModelA, prompt: 100, completion: 10),
            UsageTestData.Record(reader, At(5, 13, 11), 0.01m, ModelA, prompt: 100, completion: 10),
            UsageTestData.Record(worker, At(5, 13, 0), 0.02m, ModelB, prompt: 200, completion: 20),
            UsageTestData.Record(reader, At(5, 12, 23), 0.04m, ModelB, prompt: 400, completion: 40),
            UsageTestData.Record(worker, At(4, 20, 12), 0.08m, ModelA, prompt: 800, completion: 80),
            UsageTestData.Record(reader, At(4, 1, 0), 0.16m, ModelA, prompt: 1600, completion: 160));

        // Noise from another account, on the same days and models: never counted.
        var stranger = await factory.CreateAccountAsync();
        var (strangerKey, _) = await factory.CreateKeyAsync(stranger.Id);
        await factory.WriteUsageAsync(
            UsageTestData.Record(strangerKey, At(5, 13, 2), 9m, ModelA),
            UsageTestData.Record(strangerKey, At(4, 20, 2), 9m, ModelB));
        return new Setup(factory.Client(secret), reader, worker);
    }

    private static DateTimeOffset At(int month, int day, int hour) => new(2026, month, day, hour, 0, 0, TimeSpan.Zero);

    private static async Task<JsonElement> GetOkAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync("/api/v1/usage" + query, TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.GetRawText());
        return body;
    }

    private static (string Group, long Requests, long Prompt, long Completion, decimal Cost)[] Rows(JsonElement body, string groupField) =>
        body.GetProperty("data").EnumerateArray()
            .Select(r => (r.GetProperty(groupField).GetString()!, r.GetProperty("requests").GetInt64(), r.GetProperty("prompt_tokens").GetInt64(),
                r.GetProperty("completion_tokens").GetInt64(), r.GetProperty("cost").GetDecimal()))
            .ToArray();

    [Fact]
    public async Task Usage_Defaults_LastThirtyDaysByDayAscendingWithTheRangeEchoed()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, "");

        Assert.Equal(["data", "from", "group_by", "to"], body.PropertyNames());
        Assert.Equal("2026-04-14", body.GetProperty("from").GetString());
        Assert.Equal("2026-05-13", body.GetProperty("to").GetString());
        Assert.Equal("day", body.GetProperty("group_by").GetString());
        Assert.All(body.GetProperty("data").EnumerateArray(),
            row => Assert.Equal(["completion_tokens", "cost", "day", "prompt_tokens", "requests", "unpriced_requests"], row.PropertyNames()));
        Assert.Equal(
            [("2026-04-20", 1L, 800L, 80L, 0.08m), ("2026-05-12", 1L, 400L, 40L, 0.04m), ("2026-05-13", 3L, 400L, 40L, 0.04m)],
            Rows(body, "day"));
    }

    [Fact]
    public async Task Usage_GroupByModel_SumsEachModelMostExpensiveFirst()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, "?from=2026-04-01&to=2026-05-13&group_by=model");

        Assert.Equal("model", body.GetProperty("group_by").GetString());
        Assert.All(body.GetProperty("data").EnumerateArray(),
            row => Assert.Equal(["completion_tokens", "cost", "model", "prompt_tokens", "requests", "unpriced_requests"], row.PropertyNames()));
        Assert.Equal([(ModelA, 4L, 2600L, 260L, 0.26m), (ModelB, 2L, 600L, 60L, 0.06m)], Rows(body, "model"));
    }

    [Fact]
    public async Task Usage_GroupByKeyFilteredByModel_SumsEachKeyOfThatModel()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, $"?from=2026-04-01&to=2026-05-13&group_by=key&model={Uri.EscapeDataString(ModelA)}");

        Assert.All(body.GetProperty("data").EnumerateArray(),
            row => Assert.Equal(["completion_tokens", "cost", "key_id", "prompt_tokens", "requests", "unpriced_requests"], row.PropertyNames()));
        Assert.Equal([(setup.Reader.Id, 3L, 1800L, 180L, 0.18m), (setup.Worker.Id, 1L, 800L, 80L, 0.08m)], Rows(body, "key_id"));
    }

    [Fact]
    public async Task Usage_FilteredByKey_CountsOnlyThatKey()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, $"?key_id={setup.Worker.Id}");

        Assert.Equal([("2026-04-20", 1L, 800L, 80L, 0.08m), ("2026-05-13", 1L, 200L, 20L, 0.02m)], Rows(body, "day"));
    }

    [Fact]
    public async Task Usage_FromEqualsTo_IncludesThatWholeDay()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, "?from=2026-05-12&to=2026-05-12");

        Assert.Equal([("2026-05-12", 1L, 400L, 40L, 0.04m)], Rows(body, "day"));
    }

    [Fact]
    public async Task Usage_OnlyToGiven_CoversTheThirtyDaysEndingThere()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, "?to=2026-04-20");

        Assert.Equal("2026-03-22", body.GetProperty("from").GetString());
        Assert.Equal([("2026-04-01", 1L, 1600L, 160L, 0.16m), ("2026-04-20", 1L, 800L, 80L, 0.08m)], Rows(body, "day"));
    }

    [Fact]
    public async Task Usage_KeyIdOfAnotherAccount_YieldsNoRows()
    {
        using var setup = await ArrangeAsync();
        var stranger = await factory.CreateAccountAsync();
        var (strangerKey, _) = await factory.CreateKeyAsync(stranger.Id);
        await factory.WriteUsageAsync(UsageTestData.Record(strangerKey, At(5, 13, 3), 1m));

        foreach (var groupBy in new[] { "day", "model", "key" })
        {
            var body = await GetOkAsync(setup.Client, $"?key_id={strangerKey.Id}&group_by={groupBy}");
            Assert.Equal(0, body.GetProperty("data").GetArrayLength());
        }
    }

    [Fact]
    public async Task Usage_RangeOfExactly366Days_IsAccepted()
    {
        using var setup = await ArrangeAsync();

        var body = await GetOkAsync(setup.Client, "?from=2025-05-13&to=2026-05-13&group_by=key");

        Assert.Equal(2, body.GetProperty("data").GetArrayLength());
    }

    [Theory]
    [InlineData("?from=2026-13-01", "from")]
    [InlineData("?from=2026-5-1", "from")]
    [InlineData("?from=2026-05-01T00:00:00Z", "from")]
    [InlineData("?to=yesterday", "to")]
    [InlineData("?from=2026-05-10&to=2026-05-01", "from")]
    [InlineData("?from=2025-05-12&to=2026-05-13", "from")]
    [InlineData("?group_by=week", "group_by")]
    [InlineData("?group_by=Day", "group_by")]
    [InlineData("?group_by=day&group_by=model", "group_by")]
    [InlineData("?group_by=app&key_id=key_abc", "key_id")]
    [InlineData("?group_by=app&model=demo/echo", "model")]
    public async Task Usage_BadParameter_Answers400NamingIt(string query, string param)
    {
        using var setup = await ArrangeAsync();

        using var response = await setup.Client.GetAsync("/api/v1/usage" + query, TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Contains(param, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Usage_GroupByApp_SumsEachAppTitleOfTheUtcDaysMostExpensiveFirst()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        await factory.WriteUsageAsync(
            UsageTestData.Record(key, At(5, 12, 0), 0.03m) with { AppTitle = "Cline" },
            UsageTestData.Record(key, new DateTimeOffset(2026, 5, 13, 23, 59, 59, TimeSpan.Zero), 0.01m) with { AppTitle = "Cline" },
            UsageTestData.Record(key, At(5, 13, 5), 0.05m) with { AppTitle = "Aider" },
            UsageTestData.Record(key, At(5, 13, 6), 0.001m),
            UsageTestData.Record(key, new DateTimeOffset(2026, 5, 11, 23, 59, 59, TimeSpan.Zero), 1m) with { AppTitle = "Before" });
        using var client = factory.Client(secret);

        var body = await GetOkAsync(client, "?from=2026-05-12&to=2026-05-13&group_by=app");

        Assert.Equal("app", body.GetProperty("group_by").GetString());
        Assert.All(body.GetProperty("data").EnumerateArray(),
            row => Assert.Equal(["app", "completion_tokens", "cost", "prompt_tokens", "requests", "unpriced_requests"], row.PropertyNames()));
        Assert.Equal([("Aider", 1L, 10L, 20L, 0.05m), ("Cline", 2L, 20L, 40L, 0.04m), ("", 1L, 10L, 20L, 0.001m)], Rows(body, "app"));
    }

    [Fact]
    public async Task Usage_CallsToAnUnpricedModel_AreCountedAsUnpricedNotAsFree()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        await factory.WriteUsageAsync(
            UsageTestData.Record(key, At(5, 13, 1), 0m, model: "local/llama") with { Unpriced = true },
            UsageTestData.Record(key, At(5, 13, 2), 0.02m));
        using var client = factory.Client(secret);

        var byModel = await GetOkAsync(client, "?group_by=model");
        var byDay = await GetOkAsync(client, "");

        Assert.Equal([("demo/echo", 0L), ("local/llama", 1L)],
            byModel.GetProperty("data").EnumerateArray().Select(r => (r.GetProperty("model").GetString()!, r.GetProperty("unpriced_requests").GetInt64())));
        var today = Assert.Single(byDay.GetProperty("data").EnumerateArray());
        Assert.Equal(2, today.GetProperty("requests").GetInt64());
        Assert.Equal(1, today.GetProperty("unpriced_requests").GetInt64());
    }

    [Fact]
    public async Task Usage_KeyWithoutUsageReadScope_Answers403MissingScope()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"inference only","scopes":["inference"]}""");
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/usage", TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("usage:read", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }
}

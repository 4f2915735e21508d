using System.Net;
using System.Text.Json;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Usage;

/// <summary><c>GET /api/v1/generations</c>: the account's calls, newest first, paged with an opaque cursor.</summary>
public sealed class GenerationsApiTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private static readonly string[] ItemFields =
    [
        "api_key_id", "app_title", "cancelled", "created_at", "finish_reason", "generation_time", "http_referer", "id", "latency", "model",
        "native_finish_reason", "native_tokens_cached", "native_tokens_reasoning", "provider_name", "streamed", "task_id", "tokens_completion", "tokens_prompt",
        "total_cost", "usage_estimated",
    ];

    private static readonly DateTimeOffset Noon = new(2026, 5, 13, 12, 0, 0, TimeSpan.Zero);

    private static async Task<JsonElement> GetOkAsync(HttpClient client, string query)
    {
        using var response = await client.GetAsync("/api/v1/generations" + query, TestContext.Current.CancellationToken);
        var body = await response.ReadAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.GetRawText());
        return body;
    }

    private static string[] Ids(JsonElement body) => body.GetProperty("data").EnumerateArray().Select(g => g.GetProperty("id").GetString()!).ToArray();

    [Fact]
    public async Task List_OwnCalls_NewestFirstEachAsTheGenerationRecordWithTaskId()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        var older = UsageTestData.Record(key, Noon.AddMinutes(-1), 0.5m);
        var newer = UsageTestData.Record(key, Noon, 0.001234567m, prompt: 1200, completion: 345) with
        {
            TaskId = "task-42",
            AppTitle = "Cline",
            HttpReferer = "https://cline.bot",
            Streamed = true,
            LatencyMs = 1500,
            FirstTokenMs = 300,
        };
        await factory.WriteUsageAsync(older, newer);
        using var client = factory.Client(secret);

        var body = await GetOkAsync(client, "");

        Assert.Equal(["data", "next_cursor"], body.PropertyNames());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("next_cursor").ValueKind);
        Assert.Equal([newer.GenerationId, older.GenerationId], Ids(body));
        var first = body.GetProperty("data")[0];
        Assert.Equal(ItemFields, first.PropertyNames());
        Assert.Equal("task-42", first.GetProperty("task_id").GetString());
        Assert.Equal("Cline", first.GetProperty("app_title").GetString());
        Assert.Equal(0.001234567m, first.GetProperty("total_cost").GetDecimal());
        Assert.Equal(1200, first.GetProperty("generation_time").GetInt64());
        Assert.Equal("2026-05-13T12:00:00Z", first.GetProperty("created_at").GetString());
        Assert.Equal(JsonValueKind.Null, body.GetProperty("data")[1].GetProperty("task_id").ValueKind);

        // The same record as /generation shows it, field for field.
        using var single = await client.GetAsync("/api/v1/generation?id=" + newer.GenerationId, TestContext.Current.CancellationToken);
        var record = (await single.ReadAsync()).GetProperty("data");
        foreach (var field in record.EnumerateObject())
        {
            Assert.Equal(field.Value.GetRawText(), first.GetProperty(field.Name).GetRawText());
        }
    }

    [Fact]
    public async Task List_FollowingNextCursor_EveryCallOnceInOrder()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        var records = Enumerable.Range(0, 11).Select(i => UsageTestData.Record(key, Noon.AddSeconds(i / 4), 0.01m)).ToArray();
        await factory.WriteUsageAsync(records);
        using var client = factory.Client(secret);

        var seen = new List<string>();
        var query = "?limit=3";
        for (var pages = 0; ; pages++)
        {
            Assert.True(pages < 10);
            var body = await GetOkAsync(client, query);
            seen.AddRange(Ids(body));
            if (body.GetProperty("next_cursor").ValueKind == JsonValueKind.Null)
            {
                break;
            }

            query = "?limit=3&cursor=" + Uri.EscapeDataString(body.GetProperty("next_cursor").GetString()!);
        }

        Assert.Equal(records.OrderByDescending(r => r.CreatedAt).ThenByDescending(r => r.GenerationId, StringComparer.Ordinal).Select(r => r.GenerationId),
            seen);
    }

    [Fact]
    public async Task List_Filters_CombineByKeyModelAppAndTime()
    {
        var account = await factory.CreateAccountAsync();
        var (main, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"main"}""");
        var (ci, _) = await factory.CreateKeyAsync(account.Id, """{"name":"ci","scopes":["inference"]}""");
        var match = UsageTestData.Record(ci, Noon, 0.01m, model: "anthropic/claude-sonnet-4-6") with { AppTitle = "My App & Co" };
        await factory.WriteUsageAsync(
            match,
            UsageTestData.Record(main, Noon, 0.01m, model: "anthropic/claude-sonnet-4-6") with { AppTitle = "My App & Co" },
            UsageTestData.Record(ci, Noon, 0.01m) with { AppTitle = "My App & Co" },
            UsageTestData.Record(ci, Noon, 0.01m, model: "anthropic/claude-sonnet-4-6"),
            UsageTestData.Record(ci, Noon.AddDays(-2), 0.01m, model: "anthropic/claude-sonnet-4-6") with { AppTitle = "My App & Co" });
        using var client = factory.Client(secret);

        var body = await GetOkAsync(client,
            $"?key_id={ci.Id}&model=anthropic%2Fclaude-sonnet-4-6&app={Uri.EscapeDataString("My App & Co")}&from=2026-05-13T05:30:00%2B05:30&to=2026-05-14T00:00:00Z");

        Assert.Equal([match.GenerationId], Ids(body));
    }

    [Fact]
    public async Task List_AnotherAccountsCalls_AreNeverVisible()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        var other = await factory.CreateAccountAsync();
        var (otherKey, otherSecret) = await factory.CreateKeyAsync(other.Id);
        var mine = UsageTestData.Record(key, Noon, 0.01m);
        var theirs = new[]
        {
            UsageTestData.Record(otherKey, Noon.AddSeconds(1), 0.01m) with { AppTitle = "Theirs" },
            UsageTestData.Record(otherKey, Noon.AddSeconds(2), 0.01m) with { AppTitle = "Theirs" },
        };
        await factory.WriteUsageAsync([mine, .. theirs]);
        using var client = factory.Client(secret);
        using var otherClient = factory.Client(otherSecret);
        var theirCursor = (await GetOkAsync(otherClient, "?limit=1")).GetProperty("next_cursor").GetString()!;

        var all = await GetOkAsync(client, "");
        var byTheirKey = await GetOkAsync(client, $"?key_id={otherKey.Id}");
        var byTheirApp = await GetOkAsync(client, "?app=Theirs");
        var fromTheirCursor = await GetOkAsync(client, "?cursor=" + Uri.EscapeDataString(theirCursor));

        Assert.Equal([mine.GenerationId], Ids(all));
        Assert.Empty(Ids(byTheirKey));
        Assert.Empty(Ids(byTheirApp));
        Assert.Equal([mine.GenerationId], Ids(fromTheirCursor)); // a position selects among the caller's own calls only
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=201", "limit")]
    [InlineData("?limit=-5", "limit")]
    [InlineData("?limit=1.5", "limit")]
    [InlineData("?limit=ten", "limit")]
    [InlineData("?limit=99999999999", "limit")]
    [InlineData("?limit=1&limit=2", "limit")]
    [InlineData("?cursor=not-a-cursor", "cursor")]
    [InlineData("?cursor=AQAAAZ4mW2QAZ2VuLWFiYwAAAAA", "cursor")]
    [InlineData("?from=2026-05-01", "from")]
    [InlineData("?from=2026-05-01T00:00:00", "from")]
    [InlineData("?to=yesterday", "to")]
    [InlineData("?from=2026-05-02T00:00:00Z&to=2026-05-01T00:00:00Z", "from")]
    [InlineData("?from=0001-01-01T00:00:00Z", "from")]
    public async Task List_BadParameter_Answers400NamingIt(string query, string param)
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);

        using var response = await client.GetAsync("/api/v1/generations" + query, TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Contains(param, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("key_id", 101)]
    [InlineData("model", 201)]
    [InlineData("app", 513)]
    [InlineData("cursor", 301)]
    public async Task List_OverlongParameter_Answers400NamingIt(string param, int length)
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);

        using var response = await client.GetAsync($"/api/v1/generations?{param}={new string('a', length)}", TestContext.Current.CancellationToken);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("metadata").GetProperty("param").GetString());
    }

    [Fact]
    public async Task List_WithoutUsageReadScope_Answers403AndWithoutKey401()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"inference only","scopes":["inference"]}""");
        using var client = factory.Client(secret);
        using var anonymous = factory.Client();

        using var forbidden = await client.GetAsync("/api/v1/generations", TestContext.Current.CancellationToken);
        using var unauthorized = await anonymous.GetAsync("/api/v1/generations", TestContext.Current.CancellationToken);

        var error = await forbidden.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("usage:read", error.GetProperty("metadata").GetProperty("required_scope").GetString());
        await unauthorized.AssertErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task List_AfterARealChatCompletion_ShowsItWithItsTaskId()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);
        var ct = TestContext.Current.CancellationToken;
        using var chat = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"Hello"}]}"""),
        };
        chat.Headers.Add("X-Task-ID", "task-from-header");
        chat.Headers.Add("X-Title", "=cmd|' /C calc'!A0");
        using var completion = await client.SendAsync(chat, ct);
        var id = (await completion.ReadAsync()).GetProperty("id").GetString();

        var body = await GetOkAsync(client, "?limit=1");

        var item = body.GetProperty("data")[0];
        Assert.Equal(id, item.GetProperty("id").GetString());
        Assert.Equal("task-from-header", item.GetProperty("task_id").GetString());
        Assert.Equal("=cmd|' /C calc'!A0", item.GetProperty("app_title").GetString()); // JSON shows it as it came; only CSV makes it inert
    }
}

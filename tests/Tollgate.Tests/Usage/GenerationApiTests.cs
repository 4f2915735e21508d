using System.Net;
using System.Text.Json;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Usage;

public sealed class GenerationApiTests(TollgateFactory factory) : IClassFixture<TollgateFactory>
{
    private static readonly string[] GenerationFields =
    [
        "api_key_id", "app_title", "cancelled", "created_at", "finish_reason", "generation_time", "http_referer", "id", "latency", "model",
        "native_finish_reason", "native_tokens_cached", "native_tokens_reasoning", "provider_name", "streamed", "tokens_completion", "tokens_prompt", "total_cost",
        "usage_estimated",
    ];

    private static Task<HttpResponseMessage> GetAsync(HttpClient client, string query, string requestId = "req-generation-test")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/generation" + query);
        request.Headers.Add("X-Request-Id", requestId);
        return client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task Get_OwnGeneration_ReturnsEveryFieldOfTheRecord()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        var record = UsageTestData.Record(key, new DateTimeOffset(2026, 3, 4, 5, 6, 7, 890, TimeSpan.Zero), 0.001234567m,
            model: "anthropic/claude-sonnet-4-6", prompt: 1200, completion: 345) with
        {
            Provider = "anthropic",
            UpstreamModel = "claude-sonnet-4-6-20260101",
            CachedTokens = 1000,
            Streamed = true,
            Cancelled = false,
            Estimated = true,
            FinishReason = "stop",
            NativeFinishReason = "end_turn",
            LatencyMs = 1500,
            FirstTokenMs = 300,
            HttpReferer = "https://example.com/app",
            AppTitle = "Example App",
        };
        await factory.WriteUsageAsync(record);
        using var client = factory.Client(secret);

        using var response = await GetAsync(client, "?id=" + record.GenerationId);
        var body = await response.ReadAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(["data"], body.PropertyNames());
        var data = body.GetProperty("data");
        Assert.Equal(GenerationFields, data.PropertyNames());
        Assert.Equal(record.GenerationId, data.GetProperty("id").GetString());
        Assert.Equal("anthropic/claude-sonnet-4-6", data.GetProperty("model").GetString());
        Assert.Equal("anthropic", data.GetProperty("provider_name").GetString());
        Assert.True(data.GetProperty("streamed").GetBoolean());
        Assert.False(data.GetProperty("cancelled").GetBoolean());
        Assert.Equal("stop", data.GetProperty("finish_reason").GetString());
        Assert.Equal("end_turn", data.GetProperty("native_finish_reason").GetString());
        Assert.Equal(1200, data.GetProperty("tokens_prompt").GetInt32());
        Assert.Equal(345, data.GetProperty("tokens_completion").GetInt32());
        Assert.Equal(1000, data.GetProperty("native_tokens_cached").GetInt32());
        Assert.Equal(JsonValueKind.Number, data.GetProperty("total_cost").ValueKind);
        Assert.Equal(0.001234567m, data.GetProperty("total_cost").GetDecimal());
        Assert.True(data.GetProperty("usage_estimated").GetBoolean());
        Assert.Equal(1500, data.GetProperty("latency").GetInt64());
        Assert.Equal(1200, data.GetProperty("generation_time").GetInt64());
        Assert.Equal("2026-03-04T05:06:07.89Z", data.GetProperty("created_at").GetString());
        Assert.Equal("https://example.com/app", data.GetProperty("http_referer").GetString());
        Assert.Equal("Example App", data.GetProperty("app_title").GetString());
        Assert.Equal(key.Id, data.GetProperty("api_key_id").GetString());
    }

    [Fact]
    public async Task Get_AfterARealChatCompletion_ShowsItsRecordAndTheKeyShowsItsCost()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);
        var ct = TestContext.Current.CancellationToken;
        using var chat = new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
        {
            Content = Json.Body("""{"model":"demo/echo","messages":[{"role":"user","content":"Hello there"}]}"""),
        };
        chat.Headers.Add("HTTP-Referer", "https://example.com/chat");
        chat.Headers.Add("X-Title", "Chat Test");

        using var completion = await client.SendAsync(chat, ct);
        var answer = await completion.ReadAsync();
        Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        var id = answer.GetProperty("id").GetString()!;
        var usage = answer.GetProperty("usage");
        using var generation = await GetAsync(client, "?id=" + id);
        using var keyResponse = await client.GetAsync("/api/v1/key", ct);

        Assert.Equal(HttpStatusCode.OK, generation.StatusCode);
        var data = (await generation.ReadAsync()).GetProperty("data");
        Assert.Equal(id, data.GetProperty("id").GetString());
        Assert.Equal("demo/echo", data.GetProperty("model").GetString());
        Assert.Equal(key.Id, data.GetProperty("api_key_id").GetString());
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32(), data.GetProperty("tokens_prompt").GetInt32());
        Assert.Equal(usage.GetProperty("completion_tokens").GetInt32(), data.GetProperty("tokens_completion").GetInt32());
        Assert.Equal(usage.GetProperty("cost").GetDecimal(), data.GetProperty("total_cost").GetDecimal());
        Assert.Equal("https://example.com/chat", data.GetProperty("http_referer").GetString());
        Assert.Equal("Chat Test", data.GetProperty("app_title").GetString());
        Assert.False(data.GetProperty("streamed").GetBoolean());
        Assert.True(usage.GetProperty("cost").GetDecimal() > 0);
        Assert.Equal(usage.GetProperty("cost").GetDecimal(), (await keyResponse.ReadAsync()).GetProperty("data").GetProperty("usage_daily").GetDecimal());
    }

    [Fact]
    public async Task Get_FailedCallWithoutFirstToken_GenerationTimeIsTheLatencyAndOptionalFieldsAreNull()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id);
        var record = UsageTestData.Record(key, DateTimeOffset.UtcNow, 0m) with { LatencyMs = 750, FirstTokenMs = null, Status = 502, Provider = null };
        await factory.WriteUsageAsync(record);
        using var client = factory.Client(secret);

        using var response = await GetAsync(client, "?id=" + record.GenerationId);
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(750, data.GetProperty("latency").GetInt64());
        Assert.Equal(750, data.GetProperty("generation_time").GetInt64());
        Assert.Equal(0m, data.GetProperty("total_cost").GetDecimal());
        foreach (var field in new[] { "provider_name", "finish_reason", "native_finish_reason", "http_referer", "app_title" })
        {
            Assert.Equal(JsonValueKind.Null, data.GetProperty(field).ValueKind);
        }
    }

    [Fact]
    public async Task Get_AnotherAccountsGeneration_Answers404ByteForByteLikeAMissingOne()
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        var other = await factory.CreateAccountAsync();
        var (otherKey, _) = await factory.CreateKeyAsync(other.Id);
        var foreignRecord = UsageTestData.Record(otherKey, DateTimeOffset.UtcNow, 0.1m);
        await factory.WriteUsageAsync(foreignRecord);
        using var client = factory.Client(secret);

        using var foreign = await GetAsync(client, "?id=" + foreignRecord.GenerationId);
        using var missing = await GetAsync(client, "?id=gen-doesnotexist0000000000000000");

        var error = await foreign.AssertErrorAsync(HttpStatusCode.NotFound);
        Assert.Equal("Generation not found", error.GetProperty("message").GetString());
        Assert.Equal(await missing.Content.ReadAsStringAsync(TestContext.Current.CancellationToken),
            await foreign.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("")]
    [InlineData("?id=")]
    [InlineData("?generation_id=gen-abc")]
    public async Task Get_WithoutId_Answers400NamingId(string query)
    {
        var account = await factory.CreateAccountAsync();
        var (_, secret) = await factory.CreateKeyAsync(account.Id);
        using var client = factory.Client(secret);

        using var response = await GetAsync(client, query);

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal("id", error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Contains("id", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_KeyWithoutUsageReadScope_Answers403MissingScope()
    {
        var account = await factory.CreateAccountAsync();
        var (key, secret) = await factory.CreateKeyAsync(account.Id, """{"name":"no-usage","scopes":["inference","keys:read","keys:write"]}""");
        var record = UsageTestData.Record(key, DateTimeOffset.UtcNow, 0.1m);
        await factory.WriteUsageAsync(record);
        using var client = factory.Client(secret);

        using var response = await GetAsync(client, "?id=" + record.GenerationId);

        var error = await response.AssertErrorAsync(HttpStatusCode.Forbidden);
        Assert.Equal("missing_scope", error.GetProperty("metadata").GetProperty("reason").GetString());
        Assert.Equal("usage:read", error.GetProperty("metadata").GetProperty("required_scope").GetString());
    }

    [Fact]
    public async Task Get_AnotherKeyOfTheSameAccount_CanReadTheGeneration()
    {
        var account = await factory.CreateAccountAsync();
        var (worker, _) = await factory.CreateKeyAsync(account.Id, """{"name":"worker","scopes":["inference"]}""");
        var (_, reader) = await factory.CreateKeyAsync(account.Id, """{"name":"reader","scopes":["usage:read"]}""");
        var record = UsageTestData.Record(worker, DateTimeOffset.UtcNow, Money.ToUsd(1));
        await factory.WriteUsageAsync(record);
        using var client = factory.Client(reader);

        using var response = await GetAsync(client, "?id=" + record.GenerationId);
        var data = (await response.ReadAsync()).GetProperty("data");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(worker.Id, data.GetProperty("api_key_id").GetString());
        Assert.Equal(0.000000001m, data.GetProperty("total_cost").GetDecimal());
    }
}

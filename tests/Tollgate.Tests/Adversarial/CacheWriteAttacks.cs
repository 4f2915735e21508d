using System.Net;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Tollgate.Credits;
using Tollgate.Providers;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Anthropic bills prompt tokens written to its cache at 1.25× (5 minutes) or 2× (1 hour) the prompt
/// price: they are charged at <c>Pricing.InputCacheWrite</c>, and reserved at it (issue 9, item 7).
/// </summary>
public sealed class CacheWriteAttacks(HostileFixture hostile) : IClassFixture<HostileFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string Usage = "\"usage\":{\"input_tokens\":100,\"cache_creation_input_tokens\":10000,\"cache_read_input_tokens\":2000,\"output_tokens\":10}";

    private static readonly long Expected = Money.ToNanos(
        100 * HostileFixture.PromptPrice + 10_000 * HostileFixture.CacheWritePrice + 2_000 * HostileFixture.CacheReadPrice + 10 * HostileFixture.CompletionPrice);

    private static string Body(bool stream, string content = "a long system prompt marked for caching") => new JsonObject
    {
        ["model"] = "hostile/claude",
        ["stream"] = stream,
        ["max_tokens"] = 10,
        ["messages"] = new JsonArray(new JsonObject
        {
            ["role"] = "user",
            ["content"] = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = content, ["cache_control"] = new JsonObject { ["type"] = "ephemeral" } }),
        }),
    }.ToJsonString();

    /// <summary>A whole Anthropic message whose usage reports 10,000 tokens written to the cache.</summary>
    private static Task AnswerWithCacheWritesAsync(HttpContext context, JsonObject _)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(
            "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-hostile\",\"content\":[{\"type\":\"text\",\"text\":\"ok\"}],\"stop_reason\":\"end_turn\"," + Usage + "}",
            context.RequestAborted);
    }

    // Issue 9, item 7: cache writes were billed at the plain prompt price.
    [Fact]
    public async Task CacheWrites_AreChargedAtTheCacheWritePrice()
    {
        hostile.Upstream.Answer = AnswerWithCacheWritesAsync;
        var (accountId, secret) = await hostile.AccountAsync(1m);
        using var client = hostile.Tollgate.Client(secret);

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(Body(stream: false)), Ct);
        var usage = (await response.ReadAsync()).GetProperty("usage");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(12_100, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(10_000, usage.GetProperty("prompt_tokens_details").GetProperty("cache_write_tokens").GetInt32());
        Assert.Equal(Money.ToUsd(Expected), usage.GetProperty("cost").GetDecimal());
        Assert.Equal((1L, Expected), LedgerAudit.Charges(hostile.Tollgate, accountId));
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }

    // Issue 9, item 7: the same through a stream.
    [Fact]
    public async Task CacheWrites_InAStream_AreChargedAtTheCacheWritePrice()
    {
        hostile.Upstream.Answer = (context, _) => HostileUpstream.WriteEventsAsync(context,
        [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-hostile\",\"content\":[]," +
                Usage.Replace("\"output_tokens\":10", "\"output_tokens\":1", StringComparison.Ordinal) + "}}",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"ok\"}}",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":10}}",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}",
        ]);
        var (accountId, secret) = await hostile.AccountAsync(1m);
        using var client = hostile.Tollgate.Client(secret);

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(Body(stream: true)), Ct);
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.True(answer.EndsWithDone);
        Assert.Equal(Money.ToUsd(Expected), answer.Chunks[^1].GetProperty("usage").GetProperty("cost").GetDecimal());
        Assert.Equal((1L, Expected), LedgerAudit.Charges(hostile.Tollgate, accountId));
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }

    // Issue 9, item 7: a 1-hour cache write costs 2× the prompt price, which is not priced: the ttl is dropped.
    [Fact]
    public async Task OneHourCacheMarks_ReachAnthropicWithoutTheirTtl()
    {
        hostile.Upstream.Answer = AnswerWithCacheWritesAsync;
        var (accountId, secret) = await hostile.AccountAsync(1m);
        using var client = hostile.Tollgate.Client(secret);
        var body = Body(stream: false).Replace("{\"type\":\"ephemeral\"}", "{\"type\":\"ephemeral\",\"ttl\":\"1h\"}", StringComparison.Ordinal);
        Assert.Contains("\"ttl\":\"1h\"", body, StringComparison.Ordinal);

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(body), Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var mark = hostile.Upstream.Last["messages"]![0]!["content"]![0]!["cache_control"]!.AsObject();
        Assert.Equal("ephemeral", (string?)mark["type"]);
        Assert.False(mark.ContainsKey("ttl"));
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }

    // Issue 9, item 7: every prompt token may be written to the cache, so the reservation prices the prompt at the dearer rate.
    [Fact]
    public async Task APromptAffordableOnlyAtThePlainPrice_Gets402()
    {
        var content = new string('x', 20_000);
        var body = (JsonObject)JsonNode.Parse(Body(stream: false, content))!;
        // The byte bound fits at neither price, so the exact count decides (the bound is tried first).
        var reservedTokens = (long)Math.Ceiling(new TokenCounter().CountPrompt(body, Ct).Tokens * 1.2m) + 16;
        var atPlainPrice = reservedTokens * HostileFixture.PromptPrice + 10 * HostileFixture.CompletionPrice;
        var atWritePrice = reservedTokens * HostileFixture.CacheWritePrice + 10 * HostileFixture.CompletionPrice;
        var (accountId, secret) = await hostile.AccountAsync(Math.Round((atPlainPrice + atWritePrice) / 2, 9));
        using var client = hostile.Tollgate.Client(secret);

        using var response = await client.PostAsync("/api/v1/chat/completions", Json.Body(Body(stream: false, content)), Ct);

        await response.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }
}

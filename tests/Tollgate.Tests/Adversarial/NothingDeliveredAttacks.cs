using System.Net;
using System.Text.Json.Nodes;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// A stream whose upstream fails before its first content or tool-call delta delivered nothing: it
/// costs nothing, and it can still be retried or fall back (issue 9, item 6).
/// </summary>
public sealed class NothingDeliveredAttacks(HostileFixture hostile) : IClassFixture<HostileFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string RoleChunk = """data: {"id":"u","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}""";

    private async Task<HttpResponseMessage> StreamAsync(string secret, string model, params string[] fallbacks)
    {
        using var client = hostile.Tollgate.Client(secret);
        var body = new JsonObject
        {
            ["model"] = model,
            ["stream"] = true,
            ["max_tokens"] = 1000,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "a prompt the upstream reads in full" }),
        };
        if (fallbacks.Length > 0)
        {
            body["models"] = new JsonArray([.. fallbacks.Select(f => (JsonNode)f)]);
        }

        return await client.PostAsync("/api/v1/chat/completions", Json.Body(body.ToJsonString()), Ct);
    }

    // Issue 9, item 6: a role-only first chunk followed by an upstream error was charged $0.02 with status 502.
    [Fact]
    public async Task RoleChunkThenCut_IsNotCharged()
    {
        hostile.Upstream.Answer = async (context, _) =>
        {
            await HostileUpstream.WriteEventsAsync(context, [RoleChunk]);
            await HostileUpstream.CutAsync(context);
        };
        var (accountId, secret) = await hostile.AccountAsync(1m);

        using var response = await StreamAsync(secret, "hostile/gpt");
        var text = await response.Content.ReadAsStringAsync(Ct);

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.DoesNotContain("chat.completion.chunk", text, StringComparison.Ordinal);
        Assert.Equal(Money.ToNanos(1m), await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId));
        Assert.Equal((0L, 0L), LedgerAudit.Charges(hostile.Tollgate, accountId));
    }

    // Issue 9, item 6: the same with Anthropic's stream: message_start, then an error event.
    [Fact]
    public async Task AnthropicMessageStartThenError_IsNotCharged()
    {
        hostile.Upstream.Answer = (context, _) => HostileUpstream.WriteEventsAsync(context,
        [
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-hostile\",\"content\":[],\"usage\":{\"input_tokens\":20000,\"output_tokens\":1}}}",
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"Internal server error\"}}",
        ]);
        var (accountId, secret) = await hostile.AccountAsync(1m);

        using var response = await StreamAsync(secret, "hostile/claude");
        await response.Content.ReadAsStringAsync(Ct);

        Assert.NotEqual(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(Money.ToNanos(1m), await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId));
    }

    // Issue 9, item 6: nothing was delivered, so the fallback model still takes over; the client sees one clean stream.
    [Fact]
    public async Task RoleChunkThenCut_FallsBackToTheNextModel_AndOnlyItIsCharged()
    {
        hostile.Upstream.Answer = async (context, body) =>
        {
            if ((string?)body["model"] == "gpt-backup")
            {
                await UpstreamAnswers.OpenAiAsync(context, body);
                return;
            }

            await HostileUpstream.WriteEventsAsync(context, [RoleChunk]);
            await HostileUpstream.CutAsync(context);
        };
        var (accountId, secret) = await hostile.AccountAsync(1m);

        using var response = await StreamAsync(secret, "hostile/gpt", "hostile/gpt-backup");
        var answer = await SseAnswer.ReadAsync(response, Ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(answer.EndsWithDone);
        Assert.Single(answer.Data, e => e.Contains("\"role\":\"assistant\"", StringComparison.Ordinal));
        Assert.DoesNotContain(answer.Data, e => e.Contains("\"error\"", StringComparison.Ordinal));
        Assert.Equal("answer 0", answer.Text);
        Assert.Equal(1L, LedgerAudit.Charges(hostile.Tollgate, accountId).Records);
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }
}

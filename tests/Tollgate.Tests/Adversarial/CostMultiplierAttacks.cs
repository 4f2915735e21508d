using System.Net;
using System.Text.Json.Nodes;
using Tollgate.Credits;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// Fields that multiply what the upstream bills: <c>n</c>, a missing or doubled completion cap, and
/// fields that change the upstream's price. The reservation must bound them all (issue 9, item 1).
/// </summary>
public sealed class CostMultiplierAttacks(HostileFixture hostile) : IClassFixture<HostileFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private async Task<HttpResponseMessage> PostAsync(string secret, string json)
    {
        using var client = hostile.Tollgate.Client(secret);
        return await client.PostAsync("/api/v1/chat/completions", Json.Body(json), Ct);
    }

    // Issue 9, item 1: n: 128 was admitted on $0.0099 and charged $1.152.
    [Fact]
    public async Task N128_OnLessThanACent_IsRefusedBeforeTheUpstream_AndNothingIsCharged()
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(0.0099m);
        var before = hostile.Upstream.Received.Count;

        using var response = await PostAsync(secret, """{"model":"hostile/gpt","n":128,"messages":[{"role":"user","content":"hi"}]}""");

        var error = await response.AssertErrorAsync(HttpStatusCode.BadRequest);
        Assert.Equal("n", error.GetProperty("metadata").GetProperty("param").GetString());
        Assert.Equal(before, hostile.Upstream.Received.Count);
        Assert.Equal(Money.ToNanos(0.0099m), await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId));
    }

    // Issue 9, item 1: each of n answers may use the whole cap, so n multiplies the reservation.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NAnswers_ThatOneAnswerCouldAfford_Get402(bool stream)
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(0.005m); // one answer of 1,000 tokens costs $0.002, four cost $0.008

        using var one = await PostAsync(secret, $$"""{"model":"hostile/gpt","n":1,"max_tokens":1000,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");
        using var four = await PostAsync(secret, $$"""{"model":"hostile/gpt","n":4,"max_tokens":1000,"stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        await four.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.True(await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId) >= 0);
    }

    // Issue 9, item 1, with a concurrency of 50: n never lets the account go below zero.
    [Fact]
    public async Task FiftyConcurrentNThreeCalls_NeverSpendMoreThanTheAccountHolds()
    {
        hostile.Upstream.Answer = async (context, body) =>
        {
            await Task.Delay(100, context.RequestAborted);
            await UpstreamAnswers.OpenAiAsync(context, body);
        };
        var (accountId, secret) = await hostile.AccountAsync(0.05m); // n: 3 × 1,000 tokens = $0.006 each: at most 8 fit

        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            PostAsync(secret, $$"""{"model":"hostile/gpt","n":3,"stream":{{(i % 2 == 0 ? "true" : "false")}},"messages":[{"role":"user","content":"call {{i}}"}]}""")));

        var admitted = responses.Count(r => r.StatusCode == HttpStatusCode.OK);
        Assert.InRange(admitted, 1, 8);
        Assert.Equal(50 - admitted, responses.Count(r => r.StatusCode == HttpStatusCode.PaymentRequired));
        Assert.True(await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId) >= 0);
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    // Issue 9, item 1: with no cap in the request, the upstream would apply its own, larger default.
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NoMaxTokens_TheCapThatWasReservedIsSentUpstream(bool stream)
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(0.01m); // the upstream's own default would cost $0.20

        using var response = await PostAsync(secret, $$"""{"model":"hostile/gpt","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = hostile.Upstream.Last;
        Assert.Equal(HostileFixture.Cap, (int)sent["max_tokens"]!);
        Assert.False(sent.ContainsKey("max_completion_tokens"));
        Assert.True(await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId) >= 0);
    }

    // Issue 9, item 1: both caps sent; the smaller was reserved while the upstream could honour the larger.
    [Fact]
    public async Task BothCaps_TheLargerIsReserved_AndSentAsTheOneValue()
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(0.001m); // 100 tokens cost $0.0002; 900 cost $0.0018

        using var refused = await PostAsync(secret, """{"model":"hostile/gpt","max_tokens":900,"max_completion_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");
        await refused.AssertErrorAsync(HttpStatusCode.PaymentRequired);
        await hostile.Tollgate.Service<CreditLedger>().GrantAsync(accountId, Money.ToNanos(0.01m), "test", null, null, Ct);
        using var admitted = await PostAsync(secret, """{"model":"hostile/gpt","max_tokens":900,"max_completion_tokens":100,"messages":[{"role":"user","content":"hi"}]}""");

        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        var sent = hostile.Upstream.Last;
        Assert.Equal(900, (int)sent["max_completion_tokens"]!);
        Assert.False(sent.ContainsKey("max_tokens"));
        Assert.True(await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId) >= 0);
    }

    // Issue 9, item 1: service_tier and the other fields that change the upstream's price are dropped, never passed on.
    [Fact]
    public async Task PriceChangingFields_NeverReachTheUpstream()
    {
        hostile.Upstream.Answer = (context, body) => UpstreamAnswers.OpenAiAsync(context, body);
        var (accountId, secret) = await hostile.AccountAsync(1m);

        using var response = await PostAsync(secret, """
            {"model":"hostile/gpt","max_tokens":10,"service_tier":"priority","modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"},
             "prediction":{"type":"content","content":"a very long predicted output"},"web_search_options":{},"plugins":[{"id":"web"}],
             "temperature":0.5,"messages":[{"role":"user","content":"hi"}]}
            """);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sent = hostile.Upstream.Last;
        foreach (var field in new[] { "service_tier", "modalities", "audio", "prediction", "web_search_options", "plugins" })
        {
            Assert.False(sent.ContainsKey(field), $"{field} reached the upstream");
        }

        Assert.Equal(0.5, (double)sent["temperature"]!); // what does not change the price still passes
        await LedgerAudit.AssertBooksBalanceAsync(hostile.Tollgate, accountId);
    }
}

using System.Net;
using Tollgate.Credits;
using Tollgate.FakeUpstream;
using Tollgate.Tests.Infrastructure;

namespace Tollgate.Tests.Adversarial;

/// <summary>
/// A limit added to a key (PATCH) while requests of that key are in flight must count their reservations:
/// the in-flight calls may finish, but nothing more is admitted than the limit leaves.
/// </summary>
public sealed class KeyLimitRaceAttacks(BillingFixture billing) : IClassFixture<BillingFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Issue 9, item 5
    [Fact]
    public async Task LimitAddedMidFlight_InFlightReservationsFillIt_NextRequestIs402KeyLimit()
    {
        await AttackAsync(inFlight: 3, newRequests: 1);
    }

    // Issue 9, item 5 (concurrency of 50)
    [Fact]
    public async Task LimitAddedMidFlight_FiftyInFlightThenFiftyMore_AllNewAreRefusedAndSpendStaysWithinTheLimit()
    {
        await AttackAsync(inFlight: 50, newRequests: 50);
    }

    private async Task AttackAsync(int inFlight, int newRequests)
    {
        // Slow answers of 100 tokens: each reserves $0.01 (max_tokens 100) and costs exactly that.
        billing.Fake.Options.Scenarios["cent-slow"] = new Scenario { Chunks = 100, ChunkGap = TimeSpan.FromMilliseconds(40) };
        var (accountId, secret, key) = await billing.AccountAsync(1m);
        using var client = billing.Tollgate.Client(secret);
        client.Timeout = TimeSpan.FromMinutes(2);

        // Requests of the key, unlimited so far, are admitted and streaming.
        var streams = await Task.WhenAll(Enumerable.Range(0, inFlight).Select(_ => client.SendAsync(
            new HttpRequestMessage(HttpMethod.Post, "/api/v1/chat/completions")
            {
                Content = Json.Body("""{"model":"fake/cent-slow","stream":true,"max_tokens":100,"messages":[{"role":"user","content":"hi"}]}"""),
            }, HttpCompletionOption.ResponseHeadersRead, Ct)));
        Assert.All(streams, s => Assert.Equal(HttpStatusCode.OK, s.StatusCode));

        // The key narrows itself to a limit that exactly what is in flight fills.
        var limit = inFlight * 0.01m;
        using (var patched = await client.PatchAsync($"/api/v1/api-keys/{key.Id}", Json.Body($$"""{"limit":{{limit.ToString(System.Globalization.CultureInfo.InvariantCulture)}}}"""), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        }

        var refused = await Task.WhenAll(Enumerable.Range(0, newRequests).Select(_ => client.PostAsync("/api/v1/chat/completions",
            Json.Body("""{"model":"fake/cent","max_tokens":100,"messages":[{"role":"user","content":"one more"}]}"""), Ct)));
        var statuses = refused.GroupBy(r => r.StatusCode).ToDictionary(g => g.Key, g => g.Count());
        Assert.True(statuses.Keys.SequenceEqual([HttpStatusCode.PaymentRequired]),
            "with the limit filled by calls in flight: " + string.Join(", ", statuses.Select(s => $"{s.Value} x {(int)s.Key}")));
        var error = await refused[0].AssertErrorAsync(HttpStatusCode.PaymentRequired);
        Assert.Equal("key_limit", error.GetProperty("metadata").GetProperty("limit_source").GetString());

        // The calls admitted before the limit finish and are charged; the key's spend stays within its limit.
        foreach (var stream in streams)
        {
            var answer = await SseAnswer.ReadAsync(stream, Ct);
            Assert.True(answer.EndsWithDone);
            stream.Dispose();
        }

        foreach (var response in refused)
        {
            response.Dispose();
        }

        var spent = billing.Scalar("SELECT COALESCE(SUM(cost_nanos), 0) FROM usage_records WHERE key_id = @k", ("@k", key.Id));
        Assert.Equal(Money.ToNanos(limit), spent);
        Assert.Equal(inFlight, LedgerAudit.Charges(billing.Tollgate, accountId).Records);
        await LedgerAudit.AssertBooksBalanceAsync(billing.Tollgate, accountId);
    }
}
